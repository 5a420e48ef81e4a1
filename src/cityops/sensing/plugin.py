"""Default plugin registration for sensing."""

from cityops.plugins import hookimpl  # noqa: F401
