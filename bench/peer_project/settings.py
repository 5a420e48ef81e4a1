"""Django settings of the peer: SQLite, or PostgreSQL when ``PEER_DATABASE_URL`` is set; no auth, data arrays on."""

import os
from pathlib import Path
from urllib.parse import urlsplit
from uuid import UUID

BASE_DIR = Path(os.environ.get("PEER_DATA_DIR", "."))
SECRET_KEY = "bench-only-not-secret"  # noqa: S105 - a throwaway local benchmark server
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "sensorthings.versions.v1_1",
    "sensorthings.versions.v1_1.backends.django",
    "sensorthings.versions.v1_1.extensions.dataarray",
]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "peer_project.urls"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(BASE_DIR / "peer.sqlite3"),
        # Wait for the write lock as long as a batch may hold it: with Django's default 5 s, 4 clients of
        # 5,000-row batches (full profile) got 201 with an error link per row, twice, in the 09:18 run.
        "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", "timeout": 60},
    }
}
if os.environ.get("PEER_DATABASE_URL"):
    _pg = urlsplit(os.environ["PEER_DATABASE_URL"])
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",  # psycopg 3
            "NAME": _pg.path.lstrip("/"),
            "USER": _pg.username or "postgres",
            "PASSWORD": _pg.password or "",
            "HOST": _pg.hostname or "127.0.0.1",
            "PORT": str(_pg.port or 5432),
        }
    }
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024 * 1024
SENSORTHINGS_V1_1_SERVICE_URL = os.environ.get("PEER_URL", "http://127.0.0.1:8001") + "/sensorthings"
SENSORTHINGS_V1_1_BACKEND_ADAPTER = "sensorthings.versions.v1_1.backends.django.adapter.DjangoBackendAdapter"
SENSORTHINGS_V1_1_ID_TYPE = UUID
SENSORTHINGS_V1_1_ID_DELIMITER = "'"
