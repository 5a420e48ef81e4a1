"""Default plugin registration for areas."""

from cityops.plugins import hookimpl  # noqa: F401
