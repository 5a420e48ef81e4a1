"""Indicators: named series per area and period, kept current from events, with targets and published sets."""
