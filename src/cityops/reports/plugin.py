"""Default plugin registration for reports."""

from cityops.plugins import hookimpl  # noqa: F401
