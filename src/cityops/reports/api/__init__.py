"""Native citizen-report API under ``/api/v1/reports``, one module per audience: :mod:`.public` (anyone:
categories, submission, the public list, map and scorecards), :mod:`.citizen` (reporters, by tracking token
or signed in), :mod:`.staff` (officers, supervisors, operators working cases); :mod:`.cases` holds what
they share. ``router`` is all three, for the plugin to include.
"""

from __future__ import annotations

from fastapi import APIRouter

from cityops.reports.api import citizen, public, staff

router = APIRouter()
for _audience in (public.router, citizen.router, staff.router):
    router.include_router(_audience)
