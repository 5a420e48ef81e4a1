"""Loads the pilot demo: each plugin's ``load_demo`` in the order of DEFAULT_PLUGINS (areas before agencies)."""

from __future__ import annotations

from rich.console import Console

from cityops.db import make_engine, make_sessionmaker, session_scope
from cityops.plugins import DEFAULT_PLUGINS, plugin_manager
from cityops.settings import Settings


def _order(name: str | None) -> int:
    return DEFAULT_PLUGINS.index(name) if name in DEFAULT_PLUGINS else len(DEFAULT_PLUGINS)


def load_demo(settings: Settings, console: Console) -> None:
    pm = plugin_manager()
    engine = make_engine(settings.effective_database_url)
    sessions = make_sessionmaker(engine)
    # registration order, except that a ``trylast`` implementation (indicators: computed from the others'
    # data) runs after every other one
    impls = sorted(
        pm.hook.load_demo.get_hookimpls(), key=lambda impl: (impl.trylast, _order(impl.plugin_name))
    )
    try:
        for impl in impls:
            with session_scope(sessions) as session:
                impl.function(session=session, settings=settings, console=console)
    finally:
        engine.dispose()
    console.print("[green]Demo data loaded.[/green]")
