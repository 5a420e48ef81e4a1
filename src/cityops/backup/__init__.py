"""Backup and restore of the database and the media store."""
