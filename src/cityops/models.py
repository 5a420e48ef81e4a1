"""Imports every capability's models so one metadata holds the whole schema (Alembic, tests)."""

from cityops.areas import models as areas_models
from cityops.audit import models as audit_models
from cityops.db import Base
from cityops.events import models as events_models
from cityops.identity import models as identity_models

__all__ = ["Base", "areas_models", "audit_models", "events_models", "identity_models"]

metadata = Base.metadata
