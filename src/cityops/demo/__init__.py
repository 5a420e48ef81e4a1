"""demo capability."""
