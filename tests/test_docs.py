"""Documentation stays true: every setting and hook is described, generated pages are current."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cityops.docsgen import hook_specs, main, render_configuration, render_plugins, stale_pages
from cityops.plugins import DEFAULT_PLUGINS, Hooks
from cityops.settings import Settings

DOCS = Path(__file__).resolve().parents[1] / "docs"
REGENERATE = "docs are stale: run `python -m cityops.docsgen` (or `make docs`) and commit the result"


@pytest.mark.parametrize("name", list(Settings.model_fields))
def test_every_setting_has_a_description(name: str) -> None:
    description = (Settings.model_fields[name].description or "").strip()
    assert description, f"setting {name!r} has no description: add Field(..., description=...)"


def test_configuration_md_is_current() -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    assert text == render_configuration(), REGENERATE


def test_configuration_md_lists_every_setting() -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    for name in Settings.model_fields:
        assert f"`CITYOPS_{name.upper()}`" in text


def test_hooks_are_found() -> None:
    names = [name for name, _ in hook_specs()]
    assert {"register_routes", "register_cli", "startup", "readiness_checks", "load_demo"} <= set(names)
    assert len(names) == len([n for n in vars(Hooks) if not n.startswith("_")])


@pytest.mark.parametrize("name", [name for name, _ in hook_specs()])
def test_every_hook_is_documented(name: str) -> None:
    spec = getattr(Hooks, name)
    assert (spec.__doc__ or "").strip(), f"hook {name!r} has no docstring in cityops/plugins.py"
    text = (DOCS / "plugins.md").read_text(encoding="utf-8")
    assert f"### `{name}`" in text, f"hook {name!r} is missing from docs/plugins.md: {REGENERATE}"


def test_plugins_md_is_current() -> None:
    text = (DOCS / "plugins.md").read_text(encoding="utf-8")
    assert text == render_plugins(), REGENERATE


def test_docsgen_check_detects_a_stale_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--docs", str(tmp_path)]) == 0
    assert stale_pages(tmp_path) == []
    assert main(["--docs", str(tmp_path), "--check"]) == 0
    page = tmp_path / "configuration.md"
    page.write_text(page.read_text(encoding="utf-8").replace("| `CITYOPS_PORT`", "| `CITYOPS_POTR`"))
    assert stale_pages(tmp_path) == ["configuration.md"]
    assert main(["--docs", str(tmp_path), "--check"]) == 1
    assert "configuration.md is stale" in capsys.readouterr().err


def test_docs_mention_only_settings_that_exist() -> None:
    known = {f"CITYOPS_{name.upper()}" for name in Settings.model_fields}
    for page in sorted(DOCS.glob("*.md")):
        for found in set(re.findall(r"CITYOPS_[A-Z0-9_]*[A-Z0-9]", page.read_text(encoding="utf-8"))):
            if found.startswith("CITYOPS_TEST_"):
                continue  # variables of the test suite (tests/services.py), not settings
            assert found in known, f"{page.name} mentions {found}, which is not a setting"


@pytest.mark.parametrize(
    ("page", "needles"),
    [
        ("architecture.md", ["DESIGN.md", "outbox", "cityops/plugins.py", "NatsBus", "MemoryBus"]),
        (
            "deployment.md",
            [
                "PostgreSQL 15",
                "CITYOPS_DATABASE_URL",
                "cityops db upgrade",
                "mosquitto",
                "JetStream",
                "systemd",
                "nginx",
                "X-Request-ID",
                "pg_dump",
            ],
        ),
        (
            "development.md",
            [
                "make run",
                "make test",
                "pg_ctlcluster --skip-systemctl-redirect",
                "mosquitto -d -c",
                "/usr/sbin/nats-server",
                "python -m cityops.docsgen",
            ],
        ),
    ],
)
def test_hand_written_pages_cover_their_subject(page: str, needles: list[str]) -> None:
    text = (DOCS / page).read_text(encoding="utf-8")
    for needle in needles:
        assert needle in text, f"docs/{page} should mention {needle!r}"


@pytest.mark.parametrize("module", DEFAULT_PLUGINS)
def test_architecture_md_maps_every_built_in_capability(module: str) -> None:
    folder = "/".join(module.split(".")[1:-1])  # cityops.sectors.environment.plugin → sectors/environment
    text = (DOCS / "architecture.md").read_text(encoding="utf-8")
    assert f"`{folder}/`" in text, f"docs/architecture.md does not say what {folder}/ is for"
