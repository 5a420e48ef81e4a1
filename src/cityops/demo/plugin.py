"""Default plugin registration for demo."""

from cityops.plugins import hookimpl  # noqa: F401
