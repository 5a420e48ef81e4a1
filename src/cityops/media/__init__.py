"""Content-addressed media store: validated, metadata-free photos and short videos, reviewed before public."""
