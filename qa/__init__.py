"""Answering questions from the index: retrieval, sentence selection, citations, abstention."""
