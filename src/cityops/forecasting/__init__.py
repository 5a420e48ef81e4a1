"""Forecasting (#16): sectors declare targets, models are fitted and backtested against persistence and
seasonal naive, and each lead time is published as a forecast Datastream (see docs/forecasting.md)."""
