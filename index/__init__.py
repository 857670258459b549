"""Loading, chunking, embedding and storing documents; knows nothing of HTTP."""
