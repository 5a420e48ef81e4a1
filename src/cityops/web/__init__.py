"""Web front ends: the citizen PWA (``/``), the officer workspace (``/officer``) and the IOC dashboard (``/ioc``)."""
