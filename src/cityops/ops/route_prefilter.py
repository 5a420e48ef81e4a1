"""Skip an included router at once when the request path cannot match any of its routes.

FastAPI keeps each ``include_router`` as one entry of the app's route table and, for every request, tries
each route of each router in turn, at several microseconds a route: one scan of the ~110 routes cost
~0.8 ms per request here, and a 404 scans twice (the second time for the trailing-slash redirect). A route's
path regex matches only its own path when it has no ``{param}``, and otherwise only paths starting with its
literal part (the template up to the first ``{``); a router none of whose routes can match the path is
answered ``NONE`` without asking it, which changes no routing decision. Routers holding anything but plain API routes (mounts,
websockets, front-end route groups) are left as they are.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from fastapi import FastAPI
from fastapi.routing import APIRoute, APIRouter, _IncludedRouter  # private: the included-router entry type
from starlette._utils import get_route_path
from starlette.routing import Match
from starlette.types import Scope


class Paths(NamedTuple):
    """What the paths of a router's routes can be: one of ``exact`` or starting with one of ``prefixes``."""

    exact: frozenset[str]
    prefixes: tuple[str, ...]

    def may_match(self, path: str) -> bool:
        return path in self.exact or path.startswith(self.prefixes)


def route_paths(router: _IncludedRouter) -> Paths | None:
    """The :class:`Paths` of every route under ``router``, or None when one route's cannot be known."""
    exact: set[str] = set()
    prefixes: set[str] = set()
    for candidate in router.effective_candidates():
        if isinstance(candidate, _IncludedRouter):
            nested = route_paths(candidate)
            if nested is None:
                return None
            exact |= nested.exact
            prefixes.update(nested.prefixes)
            continue
        path = getattr(candidate, "path", None)
        if not isinstance(getattr(candidate, "original_route", None), APIRoute) or not isinstance(path, str):
            return None
        if "{" in path:
            prefixes.add(path.split("{", 1)[0])
        else:
            exact.add(path)  # compiled to ^path$: nothing else matches it
    return Paths(frozenset(exact), tuple(sorted(prefixes)))


def _routers(router: APIRouter) -> list[APIRouter]:
    """``router`` and every router included in it, however deep."""
    out = [router]
    for route in router.routes:
        if isinstance(route, _IncludedRouter):
            out.extend(_routers(route.original_router))
    return out


def _guard(router: _IncludedRouter, paths: Paths) -> None:
    original = router.matches
    # Adding a route or including a router bumps that router's own counter; reading the counters of a
    # known list is cheaper than FastAPI's recursive ``_get_routes_version``.
    tree = _routers(router.original_router)
    version = [r._routes_version for r in tree]

    def matches(scope: Scope) -> tuple[Match, Scope]:
        if paths.may_match(get_route_path(scope)):
            return original(scope)
        if [r._routes_version for r in tree] != version:
            return original(scope)  # routes were added since: the paths may be stale
        return Match.NONE, {}

    # An instance attribute, so the entry stays the same object (OpenAPI, url_for and telemetry see it).
    router.matches = matches  # type: ignore[method-assign]


def prefilter_routes(app: FastAPI) -> int:
    """Guard each top-level included router of ``app``; call once every route is registered. Returns how
    many routers were guarded."""
    guarded = 0
    routes: list[Any] = list(app.router.routes)
    for route in routes:
        if not isinstance(route, _IncludedRouter):
            continue
        paths = route_paths(route)
        if paths is not None:
            _guard(route, paths)
            guarded += 1
    return guarded
