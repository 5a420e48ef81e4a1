"""Automated accessibility checks (axe-core from the front end's dev dependencies) on the three surfaces.

axe finds what a machine can find (labels, names, contrast, landmarks, ARIA); keyboard use is covered by the
flows. Serious and critical violations fail the test; the full report is saved under test-artifacts/web/.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures_areas import LoadedAreas
from tests.web.conftest import ARTIFACTS, LiveServer

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "frontend" / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture
def axe_context(chromium: Any, live_server: LiveServer) -> Iterator[Any]:
    if not AXE.is_file():
        pytest.skip("axe-core is not installed (make frontend runs npm ci)")
    # axe is injected by the test, so this context alone lets a script in past the page's CSP
    context = chromium.new_context(
        base_url=live_server.url,
        bypass_csp=True,
        locale="vi-VN",
        timezone_id="Asia/Ho_Chi_Minh",
        permissions=["geolocation"],
        geolocation={"latitude": 10.5359, "longitude": 106.4137},
    )
    try:
        yield context
    finally:
        context.close()


def run_axe(page: Any, name: str) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("() => axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'best-practice'] })")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"axe-{name}.json").write_text(json.dumps(result["violations"], indent=2), encoding="utf-8")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize(
    ("path", "ready", "viewport"),
    [
        ("/", ".hero h1", (412, 860)),
        ("/#/report", "#pick-map.leaflet-container", (412, 860)),
        ("/officer", "#login-form", (1280, 800)),
        ("/ioc", "#map[data-areas]", (1600, 900)),
    ],
)
def test_no_serious_accessibility_violations(
    axe_context: Any, loaded_areas: LoadedAreas, path: str, ready: str, viewport: tuple[int, int]
) -> None:
    page = axe_context.new_page()
    page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
    page.goto(path)
    page.wait_for_selector(ready, state="attached")
    page.wait_for_load_state("networkidle")
    name = path.strip("/#").replace("/", "-") or "home"
    assert run_axe(page, name) == []
