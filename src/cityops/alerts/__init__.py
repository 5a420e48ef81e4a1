"""alerts capability."""
