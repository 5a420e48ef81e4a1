"""identity: users and roles, agencies and their jurisdiction, scoped API keys, sessions, permissions.

Where to find what (the interfaces other capabilities use):

- ``policy``    — every permission decision: ``Principal``, ``Action``, ``can(p, action, target)``,
                  ``authorize(p, action, target)`` (401 anonymous / 403 others). Add new actions and rules there.
- ``deps``      — ``CurrentPrincipal`` (FastAPI dependency: bearer token, ``X-API-Key`` or session cookie
                  with CSRF), ``requires(action)``, ``resolve_principal(request, session)``,
                  ``principal_for_api_key(session, key)`` (Open311 ``api_key`` field).
- ``agencies``  — ``agencies_for(session, area_id, category_code)`` (who handles what where),
                  ``create_agency``, ``update_agency``, ``add_jurisdiction``, ``remove_jurisdiction``.
- ``users``     — ``create_user``, ``update_user``, ``find_login``, ``user_view``.
- ``apikeys``   — ``create_api_key`` (returns the key once), ``revoke_api_key``.
- ``tokens``    — session and key digests, ``create_session``, ``find_session``, ``purge_sessions``.
- ``passwords`` / ``throttle`` / ``phones`` — argon2id, login throttling, ``normalize_phone``.
"""
