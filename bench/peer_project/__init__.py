"""A minimal Django project serving django-ogc-sensorthings (the peer); runs only in bench/.venv-peer."""
