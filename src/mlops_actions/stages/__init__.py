"""One module per pipeline stage, each with one public entry function."""
