"""Webhooks for integrators (#15): signed HTTP deliveries of public events, retried, dead-lettered, replayable."""
