"""Default plugin registration for alerts."""

from cityops.plugins import hookimpl  # noqa: F401
