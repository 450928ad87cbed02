"""The model registry: numbered versions, movable aliases and an append-only audit log."""
