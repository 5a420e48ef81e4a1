"""Imports every capability's models so one metadata holds the whole schema (Alembic, tests)."""

from cityops import idempotency as idempotency_models
from cityops.admin import models as admin_models
from cityops.alerts import models as alerts_models
from cityops.areas import models as areas_models
from cityops.audit import models as audit_models
from cityops.db import Base
from cityops.events import models as events_models
from cityops.forecasting import models as forecasting_models
from cityops.identity import models as identity_models
from cityops.indicators import models as indicators_models
from cityops.media import models as media_models
from cityops.ngsild import models as ngsild_models
from cityops.notify import models as notify_models
from cityops.places import models as places_models
from cityops.programmes import models as programmes_models
from cityops.reports import map_cells as reports_map_cells_models
from cityops.reports import models as reports_models
from cityops.sectors.agriculture import models as agriculture_models
from cityops.sectors.public_services import models as public_services_models
from cityops.sensing import models as sensing_models
from cityops.sensing.mqtt import deadletter as sensing_deadletter_models
from cityops.webhooks import models as webhooks_models

__all__ = [
    "Base",
    "admin_models",
    "agriculture_models",
    "alerts_models",
    "areas_models",
    "audit_models",
    "events_models",
    "forecasting_models",
    "idempotency_models",
    "identity_models",
    "indicators_models",
    "media_models",
    "ngsild_models",
    "notify_models",
    "places_models",
    "programmes_models",
    "public_services_models",
    "reports_map_cells_models",
    "reports_models",
    "sensing_deadletter_models",
    "sensing_models",
    "webhooks_models",
]

metadata = Base.metadata
