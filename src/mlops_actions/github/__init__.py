"""GitHub: the Actions runner environment (``actions``) and the REST API (``client``)."""
