"""Default plugin registration for audit."""

from cityops.plugins import hookimpl  # noqa: F401
