"""Environment sector: observed properties, monitoring stations, alert rule templates, the simulator command."""
