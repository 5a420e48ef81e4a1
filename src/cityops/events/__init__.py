"""events capability."""
