"""notify models (filled in below)."""

from cityops.db import Base  # noqa: F401
