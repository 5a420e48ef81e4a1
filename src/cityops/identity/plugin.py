"""Default plugin registration for identity."""

from cityops.plugins import hookimpl  # noqa: F401
