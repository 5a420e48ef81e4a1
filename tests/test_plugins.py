"""The plugin surface: typed declarations fail at start-up naming the plugin, every declaration reaches its
table without the demo, and every hook has a consumer."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from cityops.alerts.models import Rule
from cityops.alerts.templates import declared_templates
from cityops.app import create_app
from cityops.plugins import Hooks, declarations, hookimpl, plugin_manager, sync_declarations
from cityops.reports.categories import collect_specs
from cityops.reports.models import Category
from cityops.sensing.models import ObservedProperty
from cityops.settings import Settings, load_settings
from cityops.specs import (
    CategorySpec,
    EventConsumerSpec,
    PersonalDataSpec,
    PropertySpec,
    RuleTemplate,
    SpecError,
)

SRC = Path(__file__).resolve().parents[1] / "src" / "cityops"
BAD = "test-bad-plugin"


def _noop(*args: object) -> None:
    return None


class BadCategories:
    @hookimpl
    def case_categories(self) -> list[Any]:
        return [{"code": "plain-dict", "name_vi": "Từ điển", "name_en": "A dict"}]


class BadTemplateKind:
    @hookimpl
    def rule_templates(self) -> list[RuleTemplate]:
        return [RuleTemplate("bad-kind", "Sai", "Wrong", "sometimes", "salinity", {})]


class BadTemplateParameters:
    @hookimpl
    def rule_templates(self) -> list[RuleTemplate]:
        return [RuleTemplate("bad-params", "Sai", "Wrong", "threshold", "salinity", {"levels": "high"})]


class BadProperties:
    @hookimpl
    def observed_properties(self) -> list[Any]:
        return "salinity"  # type: ignore[return-value]


class DuplicateCategory:
    @hookimpl
    def case_categories(self) -> list[CategorySpec]:
        return [CategorySpec("other", "Khác nữa", "Another other")]


@pytest.fixture
def register() -> Iterator[Any]:
    def add(plugin: object) -> None:
        plugin_manager().register(plugin, name=BAD)

    yield add
    if plugin_manager().has_plugin(BAD):
        plugin_manager().unregister(name=BAD)


@pytest.mark.parametrize(
    ("plugin", "message"),
    [
        (BadCategories(), "returned a dict, expected CategorySpec"),
        (BadTemplateKind(), "rule template 'bad-kind' has kind 'sometimes'"),
        (BadTemplateParameters(), "rule template 'bad-params' has bad parameters"),
        (BadProperties(), "returned str, not a list"),
        (DuplicateCategory(), "declares 'other', already declared by cityops.reports.plugin"),
    ],
)
def test_a_wrong_declaration_fails_the_sync_naming_the_plugin(
    plugin: object, message: str, register: Any, sessions: sessionmaker[Session], session: Session
) -> None:
    register(plugin)
    with pytest.raises(SpecError, match=f"plugin {BAD}: .*{re.escape(message)}"):
        sync_declarations(sessions)
    assert session.scalar(select(func.count()).select_from(Category)) == 0  # all or nothing


class BadConsumer:
    @hookimpl
    def event_consumers(self) -> list[EventConsumerSpec]:
        return [EventConsumerSpec("no spaces allowed", "cases.created", _noop)]


class DuplicateConsumer:
    @hookimpl
    def event_consumers(self) -> list[EventConsumerSpec]:
        return [EventConsumerSpec("alerts-rules", "cases.created", _noop)]


@pytest.mark.parametrize(
    ("plugin", "message"),
    [
        (BadConsumer(), "event consumer 'no spaces allowed': invalid durable name"),
        (DuplicateConsumer(), "declares 'alerts-rules', already declared by cityops.alerts.plugin"),
    ],
)
def test_a_wrong_consumer_stops_the_app_from_being_built(
    plugin: object, message: str, register: Any, settings: Settings
) -> None:
    register(plugin)
    with pytest.raises(SpecError, match=f"plugin {BAD}: .*{re.escape(message)}"):
        create_app(settings)


# -- every declaration reaches its table on a fresh database, without the demo ----------------------------


def _codes(session: Session) -> tuple[set[str], set[str], set[str]]:
    categories = set(session.scalars(select(Category.code).where(Category.active)))
    rules = {c for c in session.scalars(select(Rule.code)) if c}
    props = {str((p or {}).get("code")) for p in session.scalars(select(ObservedProperty.properties))}
    return categories, rules, props


def _declared() -> tuple[set[str], set[str], set[str]]:
    return (
        {c.code for c in collect_specs()},
        {t.code for t in declared_templates()},
        {p.code for _, p in declarations("observed_properties", PropertySpec)},
    )


def test_sync_writes_categories_rule_templates_and_observed_properties_once(
    sessions: sessionmaker[Session], session: Session
) -> None:
    categories, rules, props = _declared()
    assert "other" in categories  # something to sync
    assert rules
    assert props
    sync_declarations(sessions)
    assert _codes(session) == (categories, rules, props)
    counts = [session.scalar(select(func.count()).select_from(t)) for t in (Category, Rule, ObservedProperty)]
    sync_declarations(sessions)  # idempotent
    session.expire_all()
    again = [session.scalar(select(func.count()).select_from(t)) for t in (Category, Rule, ObservedProperty)]
    assert again == counts


def test_an_edited_rule_is_left_alone_and_a_changed_property_is_updated(
    sessions: sessionmaker[Session], session: Session
) -> None:
    sync_declarations(sessions)
    rule = session.scalars(select(Rule).where(Rule.code.is_not(None))).first()
    assert rule is not None
    rule.enabled, rule.name_vi = False, "Quy tắc do quản trị sửa"
    prop = session.scalars(select(ObservedProperty)).first()
    assert prop is not None
    prop.name = "renamed by hand"
    prop.properties = {**(prop.properties or {}), "note": "added through STA"}
    session.commit()
    sync_declarations(sessions)
    session.expire_all()
    assert (rule.enabled, rule.name_vi) == (False, "Quy tắc do quản trị sửa")  # an admin's edit stays
    assert prop.name != "renamed by hand"  # the declaration wins for what it declares
    assert (prop.properties or {})["note"] == "added through STA"  # the rest stays


def test_db_upgrade_migrates_and_syncs_a_fresh_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cityops.cli import cli
    from cityops.db import make_engine, make_sessionmaker

    monkeypatch.delenv("CITYOPS_DATABASE_URL", raising=False)
    done = CliRunner().invoke(cli, ["db", "upgrade", "--data-dir", str(tmp_path)])
    assert done.exit_code == 0, done.output
    engine = make_engine(load_settings(data_dir=tmp_path).effective_database_url)
    try:
        with make_sessionmaker(engine)() as session:
            assert _codes(session) == _declared()
    finally:
        engine.dispose()


def test_the_app_syncs_at_start_outside_the_test_environment(
    settings: Settings, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cityops.events.plugin as events_plugin

    monkeypatch.setattr(events_plugin, "declared_tasks", lambda settings: [])  # no sweeps against the test db
    dev = settings.model_copy(update={"env": settings.env.DEV})
    with TestClient(create_app(dev)) as client:
        assert client.get("/healthz").status_code == 200
    assert _codes(session) == _declared()


def test_the_test_environment_does_not_sync(settings: Settings, client: TestClient, session: Session) -> None:
    assert client.get("/healthz").status_code == 200
    assert _codes(session) == (set(), set(), set())  # tests build their own rows


# -- personal data and hook consumers ----------------------------------------------------------------------


def test_each_capability_holding_personal_data_declares_it() -> None:
    found = {plugin: spec.key for plugin, spec in declarations("personal_data", PersonalDataSpec)}
    assert found == {
        "cityops.identity.plugin": "account",
        "cityops.notify.plugin": "push_subscriptions",
        "cityops.reports.plugin": "reports",
        "cityops.alerts.plugin": "alert_subscriptions",
    }


def _hook_names() -> list[str]:
    return [name for name in vars(Hooks) if not name.startswith("_")]


def _consumers(name: str) -> list[str]:
    calls = (f"hook.{name}(", f"hook.{name}.", f'declarations("{name}"')
    return [
        str(path.relative_to(SRC))
        for path in sorted(SRC.rglob("*.py"))
        if any(c in path.read_text(encoding="utf-8") for c in calls)
    ]


@pytest.mark.parametrize("name", _hook_names())
def test_every_hook_has_a_consumer(name: str) -> None:
    """A hook nobody calls is a promise the platform does not keep (Datasette's rule, as for documentation)."""
    assert _consumers(name), (
        f"hook {name!r} is declared in cityops/plugins.py but nothing in src/ calls it: call it through "
        f"plugin_manager().hook.{name}(...) or plugins.declarations({name!r}, SpecType), or drop it"
    )
