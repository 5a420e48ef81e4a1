"""sensing capability."""
