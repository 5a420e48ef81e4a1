"""Sector plugins: one folder each, registered like third-party plugins."""
