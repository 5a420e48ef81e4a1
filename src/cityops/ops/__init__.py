"""ops capability."""
