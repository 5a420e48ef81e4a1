// IOC dashboard: province map (area boundaries, approximate cells dashed), clustered cases, stations coloured
// by level, sector map layers, active alerts with acknowledgement, KPI tiles and trends, station list and
// charts, case table, agency scorecards; a drill-down province → ward scopes every one of them; live updates
// over Server-Sent Events (no reload). Each part lives in its own module of this folder.
import "./ioc.css";
import "../common/cluster.js";
import { api, items } from "../common/api.js";
import { $, announce, clear, h } from "../common/dom.js";
import { EP } from "../common/endpoints.js";
import { esc, fmtDateTime, fmtMeasure, fmtNumber } from "../common/format.js";
import { applyI18n, getLang, langToggle, t } from "../common/i18n.js";
import { L, createMap, drawAreas } from "../common/map.js";
import { loadAlerts } from "./alerts.js";
import { caseFilters, caseState, loadCases as loadCaseTable } from "./cases.js";
import { chartState, drawDaily, drawStation, rangePicker, resizeCharts } from "./charts.js";
import { drawForecasts } from "./forecast.js"; // the forecast band (#16)
import { relabelLayers, setLayers } from "./layers.js";
import { scope, viewer } from "./scope.js";
import { LEVEL_COLOUR, declutter, loadStations as loadStationList, stationState } from "./stations.js";
import { loadScorecards, loadTrends } from "./trends.js";

const map = createMap($("#map"), { zoomControl: true });
let wards = null;
let province = null;
const cases = L.markerClusterGroup({ showCoverageOnHover: false, maxClusterRadius: 50, chunkedLoading: true });
const stationLayer = L.layerGroup();
const alertLayer = L.layerGroup();
const placeLayer = L.layerGroup();
for (const layer of [cases, stationLayer, alertLayer, placeLayer]) layer.addTo(map);
map.on("zoomend", () => declutter(map));

const OPEN = new Set(["submitted", "acknowledged", "assigned", "in_progress", "reopened"]);
const STATUS_COLOUR = { on_track: "#2e7d32", at_risk: "#e0a100", off_track: "#c62828" };
const PLACE_COLOUR = { online: "#2e7d32", open: "#2e7d32", offline: "#c62828", closed: "#c62828", maintenance: "#e0a100" };

// ---- KPI tiles ----
function tile(id, label, value, extra = "", cls = "") {
  return h(`div.kpi${cls ? "." + cls : ""}`, { id: `kpi-${id}` }, h("span.kpi-label", label), h("strong.kpi-value", value), extra ? h("span.kpi-extra", extra) : null);
}

async function loadKpis() {
  const qs = scope.areaId ? `?area_id=${scope.areaId}` : "";
  let s;
  try {
    s = await api(`${EP.iocSummary}${qs}`);
  } catch {
    return;
  }
  const box = clear($("#kpis"));
  const pct = (v) => (v == null ? "–" : `${fmtNumber(v, 1)}%`);
  box.dataset.area = String(scope.areaId || "");
  box.append(
    tile("today", t("kpi.today"), fmtNumber(s.reports_today)),
    tile("open", t("kpi.open"), fmtNumber(s.open)),
    tile("overdue", t("kpi.overdue"), fmtNumber(s.overdue), "", s.overdue ? "bad" : ""),
    tile("ontime", t("kpi.ontime"), pct(s.on_time_pct)),
    tile("satisfaction", t("kpi.satisfaction"), pct(s.satisfaction_pct)),
  );
  drawDaily(s.daily || []);
  fitGrid();
  loadPanels();
}

// ---- sector panels: what each sector declares through the core's dashboard hook ----
function indicatorTile(panel, d, en) {
  const value = d.value == null ? "–" : fmtMeasure(d.value, d.unit, 1);
  const name = en ? d.name_en : d.name_vi;
  const target = d.target == null ? "" : `${t("panel.target")}: ${fmtMeasure(d.target, d.unit, 1)}`;
  const status = d.status ? t(`panel.status.${d.status}`) : "";
  const el = tile(`${panel.code}-${d.code}`, name, value, [target, status].filter(Boolean).join(" · "));
  if (d.status) el.style.borderTopColor = STATUS_COLOUR[d.status];
  return el;
}

function latestTile(panel, d) {
  const el = tile(`${panel.code}-${d.id}`, d.name, fmtMeasure(d.value, d.unit, 2)); // the datastream's name says its property
  if (d.colour || LEVEL_COLOUR[d.level]) el.style.borderTopColor = d.colour || LEVEL_COLOUR[d.level];
  return el;
}

async function loadPanels() {
  const qs = scope.areaId ? `?area_id=${scope.areaId}` : "";
  let panels;
  try {
    panels = await api(`${EP.panels}${qs}`);
  } catch {
    return;
  }
  const en = getLang() === "en";
  const box = clear($("#panels"));
  placeLayer.clearLayers();
  setLayers(map, $("#layers"), panels);
  for (const panel of panels) {
    const data = panel.data || [];
    if (panel.kind === "map_layer") continue;
    if (panel.kind === "place_layer") {
      for (const p of data) {
        if (p.lat == null || p.lon == null) continue;
        if (scope.areaId && p.area_id !== scope.areaId) continue;
        const colour = PLACE_COLOUR[p.status] || "#5c6bc0";
        L.circleMarker([p.lat, p.lon], { radius: 5, color: colour, fillColor: colour, fillOpacity: 0.7, weight: 1 })
          .bindTooltip(esc(p.name))
          .addTo(placeLayer);
      }
      continue;
    }
    const tiles = panel.kind === "latest_values" ? data.slice(0, 8).map((d) => latestTile(panel, d)) : data.map((d) => indicatorTile(panel, d, en));
    if (!tiles.length) continue;
    box.append(h("section.sector-panel", { "aria-label": en ? panel.title_en : panel.title_vi }, h("h2", en ? panel.title_en : panel.title_vi), h("div.kpis", ...tiles)));
  }
}

// ---- cases on the map ----
async function loadCaseMarkers() {
  let data;
  try {
    data = await api(`${EP.publicGeojson}?limit=5000`);
  } catch {
    return;
  }
  cases.clearLayers();
  const markers = [];
  for (const f of items(data)) {
    const p = f.properties || {};
    if (!f.geometry || f.geometry.type !== "Point") continue;
    if (scope.areaId && p.area_id !== scope.areaId) continue;
    const [lon, lat] = f.geometry.coordinates;
    const open = OPEN.has(p.state);
    const m = L.circleMarker([lat, lon], { radius: 7, color: "#fff", weight: 2, fillColor: p.overdue ? "#6a1b9a" : open ? "#c62828" : "#2e7d32", fillOpacity: 0.95, className: "case-marker" });
    m.bindPopup(`<strong>${esc(p.ref || "")}</strong><br>${esc(t(`state.${p.state}`))}<br>${esc(getLang() === "en" ? p.category_name_en || p.category_name : p.category_name || p.category)}<br>${esc(p.area_name || "")}<br>${esc(fmtDateTime(p.submitted_at))}`);
    m.options.ref = p.ref;
    markers.push(m);
  }
  cases.addLayers(markers);
  $("#map").dataset.cases = String(markers.length);
}

// ---- stations, charts and alerts ----
function pickStation(s) {
  drawStation(s).then(() => drawForecasts(s));
}

async function loadStations() {
  await loadStationList(stationLayer, pickStation);
  const current = chartState.station && stationState.stations.find((s) => s.id === chartState.station.id);
  if (current) drawStation(current);
  else if (chartState.station) {
    chartState.station = null;
    clear($("#series-chart")).append(h("p.muted", t("ioc.pickStation")));
    $("#series-title").textContent = t("ioc.series");
  }
}

function refreshAlerts() {
  return loadAlerts(stationState.stations, alertLayer, refreshAlerts);
}

// ---- drill-down ----
function crumbs() {
  const nav = clear($("#crumbs"));
  const top = h("button.crumb", { type: "button", "aria-current": scope.areaId ? null : "page" }, t("ioc.province"));
  top.addEventListener("click", () => setScope(null, null));
  nav.append(top);
  if (scope.areaId) nav.append(h("span.sep", "›"), h("span.crumb", { "aria-current": "page" }, scope.areaName));
}

// wards by id, for the keyboard picker and the case table; each outline carries its id for tests and tools
const wardLayers = new Map();
function wardPicker() {
  const pick = $("#ward-pick");
  if (wards) {
    wards.eachLayer((l) => {
      const id = l.feature?.properties?.id ?? l.feature?.id;
      if (id == null) return;
      wardLayers.set(id, l);
      caseState.areaNames.set(id, l.feature.properties.name);
      l.getElement()?.setAttribute("data-area-id", String(id));
    });
  }
  const sorted = [...caseState.areaNames].sort((a, b) => a[1].localeCompare(b[1], "vi"));
  clear(pick).append(h("option", { value: "" }, t("ioc.province")), ...sorted.map(([id, name]) => h("option", { value: String(id) }, name)));
  pick.value = scope.areaId ? String(scope.areaId) : "";
  pick.onchange = () => {
    const id = Number(pick.value) || null;
    setScope(id, id ? caseState.areaNames.get(id) : null, id ? wardLayers.get(id) : null);
  };
}

function setScope(areaId, name, layer) {
  scope.areaId = areaId;
  scope.areaName = name;
  if (layer) map.fitBounds(layer.getBounds(), { maxZoom: 13, padding: [20, 20] });
  else if (province) map.fitBounds(province.getBounds(), { padding: [8, 8] });
  $("#main").dataset.scope = String(areaId || "");
  crumbs();
  $("#ward-pick").value = areaId ? String(areaId) : "";
  caseState.offset = 0;
  loadKpis();
  loadCaseMarkers();
  loadCaseTable();
  loadTrends();
  loadScorecards();
  loadStations().then(refreshAlerts);
}

// ---- live (SSE) ----
function live() {
  const badge = $("#live");
  if (!("EventSource" in window)) return;
  const es = new EventSource(EP.live);
  // The server ends each stream every few seconds and EventSource reconnects (missed events are replayed):
  // only a reconnection that takes longer than 3 s is shown.
  let lost = null;
  es.onopen = () => {
    clearTimeout(lost);
    badge.textContent = `● ${t("ioc.live")}`;
    badge.dataset.state = "on";
  };
  es.onerror = () => {
    clearTimeout(lost);
    lost = setTimeout(() => {
      badge.textContent = t("ioc.reconnecting");
      badge.dataset.state = "off";
    }, 3000);
  };
  const debounce = (fn, ms = 400) => {
    let id = null;
    return () => {
      clearTimeout(id);
      id = setTimeout(fn, ms);
    };
  };
  const refreshCases = debounce(() => (loadCaseMarkers(), loadKpis(), loadCaseTable()));
  const refreshAlertsSoon = debounce(() => (refreshAlerts(), loadStations().then(refreshAlerts)), 150);
  const refreshStations = debounce(() => (loadStations().then(refreshAlerts), loadKpis()), 1000);
  for (const s of ["cases.created", "cases.transitioned", "cases.updated", "cases.overdue", "cases.escalated", "cases.rated"]) es.addEventListener(s, refreshCases);
  for (const s of ["alerts.opened", "alerts.escalated", "alerts.acknowledged", "alerts.closed", "alerts.updated"]) {
    es.addEventListener(s, (ev) => {
      refreshAlertsSoon();
      if (s !== "alerts.opened") return;
      try {
        const p = JSON.parse(ev.data).payload || {};
        announce((getLang() === "en" ? p.message_en : p.message_vi) || t("ioc.alerts"), "warn");
      } catch {
        announce(t("ioc.alerts"), "warn");
      }
    });
  }
  for (const s of ["observations.created", "observations.batch", "sensing.observations"]) es.addEventListener(s, refreshStations);
  es.onmessage = () => {};
}

function tick() {
  const now = new Date();
  $("#clock").textContent = fmtDateTime(now);
  $("#clock").setAttribute("datetime", now.toISOString());
}

function legend() {
  const box = clear($("#legend"));
  box.append(
    h("span.lg", h("i.sw.case-open"), t("map.open")),
    h("span.lg", h("i.sw.case-done"), t("map.done")),
    h("span.lg", h("i.sw.lvl-good"), t("legend.good")),
    h("span.lg", h("i.sw.lvl-warn"), t("legend.warn")),
    h("span.lg", h("i.sw.lvl-bad"), t("legend.bad")),
    h("span.lg", h("i.sw.approx"), t("legend.approx")),
  );
}

// the grid takes the screen below the header and KPI row, whatever their height (CSSOM: allowed by the CSP)
function fitGrid() {
  const top = $(".ioc-grid").getBoundingClientRect().top + window.scrollY;
  document.documentElement.style.setProperty("--grid-top", `${Math.ceil(top)}px`);
  map.invalidateSize();
}

async function whoAmI() {
  try {
    viewer.me = await api(EP.me);
  } catch {
    viewer.me = null; // anonymous: the public wall (no acknowledgement, no staff layers)
  }
  $("#who").textContent = viewer.me ? viewer.me.username : "";
}

async function categories() {
  try {
    return items(await api(EP.categories));
  } catch {
    return [];
  }
}

function redraw() {
  crumbs();
  $("#ward-pick").options[0].textContent = t("ioc.province");
  legend();
  rangePicker(() => chartState.station && drawStation(chartState.station));
  loadKpis();
  loadStations().then(refreshAlerts);
  loadCaseMarkers();
  loadCaseTable();
  loadTrends();
  loadScorecards();
  relabelLayers();
  const badge = $("#live");
  if (badge.dataset.state === "on") badge.textContent = `● ${t("ioc.live")}`;
}

async function start() {
  langToggle($("#lang"));
  tick();
  setInterval(tick, 30000);
  crumbs();
  legend();
  await whoAmI();
  rangePicker(() => chartState.station && drawStation(chartState.station));
  const cats = await categories();
  caseFilters(cats);
  document.addEventListener("langchange", () => {
    caseFilters(cats);
    redraw();
  });
  province = await drawAreas(map, { url: `${EP.areasGeojson}?level=province`, fit: true });
  wards = await drawAreas(map, {
    url: `${EP.areasGeojson}?level=commune`,
    fit: !province,
    onClick: (f, lyr) => setScope(f.properties.id ?? f.id, f.properties.name, lyr),
  });
  if (province) province.bringToBack();
  wardPicker();
  $("#map").dataset.areas = String((wards ? wards.getLayers().length : 0) + (province ? province.getLayers().length : 0));
  await Promise.all([loadKpis(), loadCaseMarkers(), loadCaseTable(), loadTrends(), loadScorecards(), loadStations().then(refreshAlerts)]);
  applyI18n(document);
  live();
  fitGrid();
  let resizing = null;
  window.addEventListener("resize", () => {
    fitGrid();
    clearTimeout(resizing);
    resizing = setTimeout(resizeCharts, 250);
  });
}

start();
