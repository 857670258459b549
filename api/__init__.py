"""The HTTP API and the command line: the edges that read settings and pass plain values down."""
