"""areas capability."""
