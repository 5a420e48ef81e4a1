"""Default plugin registration for events."""

from cityops.plugins import hookimpl  # noqa: F401
