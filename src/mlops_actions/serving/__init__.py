"""Serving a packaged model: the Open Inference Protocol, the server, its inference log."""
