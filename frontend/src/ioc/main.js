// IOC dashboard: province map (area boundaries, approximate cells dashed), clustered cases, stations
// coloured by their latest state, active alerts, KPI tiles, charts, drill-down province → ward, and
// live updates over Server-Sent Events (no reload).
import "./ioc.css";
import uPlot from "uplot";
import "../common/cluster.js";
import { api, items } from "../common/api.js";
import { $, announce, clear, h } from "../common/dom.js";
import { EP } from "../common/endpoints.js";
import { esc, fmtDate, fmtDateTime, fmtMeasure, fmtNumber, unit } from "../common/format.js";
import { applyI18n, getLang, langToggle, t } from "../common/i18n.js";
import { L, createMap, drawAreas } from "../common/map.js";

const scope = { areaId: null, areaName: null, layer: null };
const state = { alerts: [], stations: [], stationId: null, datastreamId: null };
const map = createMap($("#map"), { zoomControl: true });
let wards = null;
let province = null;
const cases = L.markerClusterGroup({ showCoverageOnHover: false, maxClusterRadius: 50, chunkedLoading: true });
const stationLayer = L.layerGroup();
const alertLayer = L.layerGroup();
cases.addTo(map);
stationLayer.addTo(map);
alertLayer.addTo(map);

const OPEN = new Set(["submitted", "acknowledged", "assigned", "in_progress", "reopened"]);
const AXIS = { stroke: "#b8c7d6", grid: { stroke: "rgba(255,255,255,.08)" }, ticks: { stroke: "rgba(255,255,255,.15)" } };
const hhmm = (v) => fmtDateTime(v * 1000).slice(0, 5);
const LEVEL_COLOUR = { good: "#2e7d32", warn: "#e0a100", bad: "#c62828", nodata: "#757575" };

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
  box.append(
    tile("today", t("kpi.today"), fmtNumber(s.reports_today)),
    tile("open", t("kpi.open"), fmtNumber(s.open)),
    tile("overdue", t("kpi.overdue"), fmtNumber(s.overdue), "", s.overdue ? "bad" : ""),
    tile("ontime", t("kpi.ontime"), pct(s.on_time_pct)),
    tile("satisfaction", t("kpi.satisfaction"), pct(s.satisfaction_pct)),
  );
  drawDaily(s.daily || []);
  loadPanels();
}

// ---- sector panels: what each sector declares through the core's dashboard hook ----
const placeLayer = L.layerGroup();
placeLayer.addTo(map);
const STATUS_COLOUR = { on_track: "#2e7d32", at_risk: "#e0a100", off_track: "#c62828" };
const PLACE_COLOUR = { online: "#2e7d32", open: "#2e7d32", offline: "#c62828", closed: "#c62828", maintenance: "#e0a100" };

function indicatorTile(panel, d, en) {
  const value = d.value == null ? "–" : fmtMeasure(d.value, d.unit, 1);
  const name = en ? d.name_en : d.name_vi;
  const target = d.target == null ? "" : `${t("panel.target")}: ${fmtMeasure(d.target, d.unit, 1)}`;
  const status = d.status ? t(`panel.status.${d.status}`) : "";
  const el = tile(`${panel.code}-${d.code}`, name, value, [target, status].filter(Boolean).join(" · "));
  if (d.status) el.style.borderTopColor = STATUS_COLOUR[d.status];
  return el;
}

function latestTile(panel, d, en) {
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
  for (const panel of panels) {
    const data = panel.data || [];
    if (panel.kind === "place_layer") {
      for (const p of data) {
        if (p.lat == null || p.lon == null) continue;
        const colour = PLACE_COLOUR[p.status] || "#5c6bc0";
        L.circleMarker([p.lat, p.lon], { radius: 5, color: colour, fillColor: colour, fillOpacity: 0.7, weight: 1 })
          .bindTooltip(esc(p.name))
          .addTo(placeLayer);
      }
      continue;
    }
    const tiles =
      panel.kind === "latest_values" ? data.slice(0, 8).map((d) => latestTile(panel, d, en)) : data.map((d) => indicatorTile(panel, d, en));
    if (!tiles.length) continue;
    box.append(h("section.sector-panel", { "aria-label": en ? panel.title_en : panel.title_vi }, h("h2", en ? panel.title_en : panel.title_vi), h("div.kpis", ...tiles)));
  }
}

// ---- charts ----
let dailyPlot = null;
function drawDaily(daily) {
  const el = $("#daily-chart");
  const xs = daily.map((d) => new Date(`${d.day}T12:00:00+07:00`).getTime() / 1000);
  const ys = daily.map((d) => d.count);
  const width = Math.max(el.clientWidth - 8, 240);
  if (dailyPlot) dailyPlot.destroy();
  clear(el);
  dailyPlot = new uPlot(
    {
      width,
      height: 180,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Asia/Ho_Chi_Minh"),
      scales: { x: { time: true } },
      axes: [{ ...AXIS, values: (u, vals) => vals.map((v) => fmtDate(v * 1000).slice(0, 5)) }, { ...AXIS, size: 40 }],
      series: [{}, { label: t("legend.cases"), stroke: "#b3261e", fill: "rgba(179,38,30,.15)", width: 2, points: { show: true } }],
      legend: { show: false },
    },
    [xs, ys],
    el,
  );
  el.setAttribute("aria-label", `${t("ioc.perDay")}: ${daily.map((d) => `${fmtDate(d.day + "T12:00:00+07:00")} ${d.count}`).join(", ")}`);
  el.setAttribute("role", "img");
}

let seriesPlot = null;
async function drawSeries(station, ds) {
  state.stationId = station.id;
  state.datastreamId = ds.id;
  $("#series-title").textContent = `${station.name} – ${getLang() === "en" ? ds.property_en : ds.property_vi}${unit(ds.unit) ? ` (${unit(ds.unit)})` : ""}`;
  const el = $("#series-chart");
  let obs = [];
  try {
    obs = items(await api(EP.observations(ds.id, 300)));
  } catch {
    obs = [];
  }
  const pts = obs
    .map((o) => [new Date(o.phenomenonTime?.split("/")[0] || o.resultTime).getTime() / 1000, Number(o.result)])
    .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y))
    .sort((a, b) => a[0] - b[0]);
  const thresholds = ds.property === "salinity" ? [1, 4] : [];
  const xs = pts.map((p) => p[0]);
  const data = [xs, pts.map((p) => p[1]), ...thresholds.map((v) => xs.map(() => v))];
  if (seriesPlot) seriesPlot.destroy();
  clear(el);
  if (!pts.length) return el.append(h("p.muted", "–"));
  seriesPlot = new uPlot(
    {
      width: Math.max(el.clientWidth - 8, 240),
      height: 180,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Asia/Ho_Chi_Minh"),
      axes: [{ ...AXIS, values: (u, vals) => vals.map(hhmm) }, { ...AXIS, size: 44 }],
      series: [
        {},
        { label: ds.property, stroke: "#4fc3f7", width: 2 },
        ...thresholds.map((v, i) => ({ label: `${v}`, stroke: i ? "#c62828" : "#e0a100", dash: [6, 4], width: 1.5, points: { show: false } })),
      ],
      legend: { show: false },
    },
    data,
    el,
  );
}

// ---- map layers ----
async function loadCases() {
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

async function loadStations() {
  try {
    state.stations = items(await api(EP.iocStations));
  } catch {
    state.stations = [];
  }
  stationLayer.clearLayers();
  for (const s of state.stations) {
    const colour = s.datastreams.find((d) => d.colour && d.level === s.level)?.colour || LEVEL_COLOUR[s.level];
    const icon = L.divIcon({ className: `station lvl-${s.level}`, html: "<span></span>", iconSize: [18, 18], iconAnchor: [9, 9] });
    const m = L.marker([s.lat, s.lon], { icon, title: s.name, keyboard: true, zIndexOffset: 500 });
    // colour through the CSSOM (allowed by the CSP, unlike inline style attributes)
    m.on("add", () => {
      const dot = m.getElement()?.querySelector("span");
      if (dot) dot.style.backgroundColor = colour;
    });
    const rows = s.datastreams
      .map((d) => `<tr><td>${esc(getLang() === "en" ? d.property_en : d.property_vi)}</td><td class="lvl-${d.level}">${d.value == null ? "–" : esc(fmtNumber(d.value, 2))} ${esc(unit(d.unit))}</td></tr>`)
      .join("");
    m.bindPopup(`<strong>${esc(s.name)}</strong><table>${rows}</table>`);
    m.on("click", () => {
      const ds = s.datastreams.find((d) => d.level === s.level && d.value != null) || s.datastreams[0];
      if (ds) drawSeries(s, ds);
    });
    m.addTo(stationLayer);
  }
}

async function loadAlerts() {
  try {
    state.alerts = items(await api(`${EP.alerts}?state=open`));
  } catch {
    state.alerts = [];
  }
  const ul = clear($("#alerts"));
  const en = getLang() === "en";
  for (const a of state.alerts) {
    ul.append(
      h(
        `li.alert.sev-${a.severity}`,
        { dataset: { id: String(a.id) } },
        h("strong", t(`severity.${a.severity}`)),
        h("span.muted", ` · ${fmtDateTime(a.opened_at)}`),
        h("p", (en ? a.message_en : a.message_vi) || a.message_vi || ""),
      ),
    );
  }
  if (!state.alerts.length) ul.append(h("li.muted", t("ioc.noAlerts")));
  // ring the stations that carry an alert
  alertLayer.clearLayers();
  const byDs = new Map(state.alerts.filter((a) => a.datastream_id).map((a) => [a.datastream_id, a]));
  for (const s of state.stations) {
    const a = s.datastreams.map((d) => byDs.get(d.id)).find(Boolean);
    if (a) L.circleMarker([s.lat, s.lon], { radius: 16, color: a.severity === "critical" ? "#c62828" : "#e0a100", weight: 3, fill: false, className: "alert-ring", interactive: false }).addTo(alertLayer);
  }
}

// ---- drill-down ----
function crumbs() {
  const nav = clear($("#crumbs"));
  const top = h("button.crumb", { type: "button", "aria-current": scope.areaId ? null : "page" }, t("ioc.province"));
  top.addEventListener("click", () => setScope(null, null));
  nav.append(top);
  if (scope.areaId) nav.append(h("span.sep", "›"), h("span.crumb", { "aria-current": "page" }, scope.areaName));
}

function setScope(areaId, name, layer) {
  scope.areaId = areaId;
  scope.areaName = name;
  if (layer) map.fitBounds(layer.getBounds(), { maxZoom: 13, padding: [20, 20] });
  else if (province) map.fitBounds(province.getBounds(), { padding: [8, 8] });
  crumbs();
  loadKpis();
  loadCases();
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
  const refreshCases = debounce(() => (loadCases(), loadKpis()));
  const refreshAlerts = debounce(() => (loadAlerts(), loadStations().then(loadAlerts)), 150);
  const refreshStations = debounce(() => (loadStations().then(loadAlerts), loadKpis()), 1000);
  for (const s of ["cases.created", "cases.transitioned", "cases.updated", "cases.overdue", "cases.escalated", "cases.rated"]) es.addEventListener(s, refreshCases);
  for (const s of ["alerts.opened", "alerts.escalated", "alerts.acknowledged", "alerts.closed", "alerts.updated"]) {
    es.addEventListener(s, (ev) => {
      refreshAlerts();
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

async function start() {
  langToggle($("#lang"));
  document.addEventListener("langchange", () => {
    crumbs();
    legend();
    loadKpis();
    loadStations().then(loadAlerts);
    loadCases();
    const badge = $("#live");
    if (badge.dataset.state === "on") badge.textContent = `● ${t("ioc.live")}`;
    if (state.stationId) {
      const st = state.stations.find((x) => x.id === state.stationId);
      const ds = st?.datastreams.find((d) => d.id === state.datastreamId);
      if (st && ds) drawSeries(st, ds);
    }
  });
  tick();
  setInterval(tick, 30000);
  crumbs();
  legend();
  province = await drawAreas(map, { url: `${EP.areasGeojson}?level=province`, fit: true });
  wards = await drawAreas(map, {
    url: `${EP.areasGeojson}?level=commune`,
    fit: !province,
    onClick: (f, lyr) => setScope(f.properties.id ?? f.id, f.properties.name, lyr),
  });
  if (province) province.bringToBack();
  $("#map").dataset.areas = String((wards ? wards.getLayers().length : 0) + (province ? province.getLayers().length : 0));
  await Promise.all([loadKpis(), loadCases(), loadStations().then(loadAlerts)]);
  applyI18n(document);
  live();
  window.addEventListener("resize", () => {
    map.invalidateSize();
  });
}

start();
