"""Default plugin registration for notifications."""

from cityops.plugins import hookimpl  # noqa: F401
