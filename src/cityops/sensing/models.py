"""sensing models."""

from cityops.db import Base  # noqa: F401
