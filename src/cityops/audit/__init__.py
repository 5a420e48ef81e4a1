"""audit: the append-only record of every state change.

``cityops.audit.service.record(session, actor, action, target_type, target_id, before, after, request)``
in the caller's transaction; ``snapshot(obj)`` for before/after (no secrets, personal data redacted);
``history(session, target_type, target_id)``. The database refuses UPDATE/DELETE (``models.append_only_ddl``).
"""
