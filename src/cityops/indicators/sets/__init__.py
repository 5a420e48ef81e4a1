"""Indicator sets and hand-entered indicators shipped as data (catalogue.json)."""
