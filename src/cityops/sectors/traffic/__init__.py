"""The traffic sector: traffic counters on the pilot's national roads, their flows and simulation."""
