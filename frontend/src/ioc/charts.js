// Charts: reports per day, and a station's parameters (one small chart each, all of its datastreams) over a
// chosen range — 24 h, 7 days, 30 days or custom dd/mm/yyyy dates — with the sectors' warn/bad thresholds as
// dashed lines; axes sized to their labels so nothing is clipped.
import uPlot from "uplot";
import { api, items } from "../common/api.js";
import { clear, h, $ } from "../common/dom.js";
import { EP } from "../common/endpoints.js";
import { fmtDate, fmtDateTime, fmtNumber, unit } from "../common/format.js";
import { getLang, t } from "../common/i18n.js";
import { drawForecasts } from "./forecast.js";

const AXIS_STYLE = { stroke: "#b8c7d6", grid: { stroke: "rgba(255,255,255,.08)" }, ticks: { stroke: "rgba(255,255,255,.15)" } };
// axis text in rem, so a 4K wall's charts read like a 1080p screen's
const axis = () => ({ ...AXIS_STYLE, font: `${Math.round(0.75 * remPx())}px system-ui, sans-serif` });
const TZ_DATE = (ts) => uPlot.tzDate(new Date(ts * 1000), "Asia/Ho_Chi_Minh");
const HOUR = 3600 * 1000;
export const RANGES = { "24h": 24 * HOUR, "7d": 7 * 24 * HOUR, "30d": 30 * 24 * HOUR };
export const chartState = { station: null, range: "24h", from: null, to: null };
const plots = [];

function remPx() {
  return parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
}

/** dd/mm/yyyy → Date at local (Việt Nam) midnight, or null. */
export function parseDay(text) {
  const m = /^\s*(\d{1,2})\/(\d{1,2})\/(\d{4})\s*$/.exec(text || "");
  if (!m) return null;
  const [d, mo, y] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(`${m[3]}-${String(mo).padStart(2, "0")}-${String(d).padStart(2, "0")}T00:00:00+07:00`);
  return Number.isNaN(date.getTime()) || date.getUTCFullYear() < y - 1 ? null : date;
}

function span() {
  if (chartState.range === "custom" && chartState.from && chartState.to) return [chartState.from, chartState.to];
  const end = new Date();
  return [new Date(end.getTime() - RANGES[chartState.range === "custom" ? "24h" : chartState.range]), end];
}

function tickLabel(ms) {
  const long = ms > 2 * 24 * HOUR;
  return (u, vals) => vals.map((v) => (long ? fmtDate(v * 1000).slice(0, 5) : fmtDateTime(v * 1000).slice(0, 5)));
}

function yAxisSize(u, values) {
  if (!values) return 3 * remPx();
  const longest = Math.max(...values.map((v) => String(v).length));
  return Math.ceil(longest * 0.62 * remPx()) + 14;
}

let dailyPlot = null;
let lastDaily = [];
export function drawDaily(daily) {
  lastDaily = daily;
  const el = $("#daily-chart");
  const xs = daily.map((d) => new Date(`${d.day}T12:00:00+07:00`).getTime() / 1000);
  const ys = daily.map((d) => d.count);
  if (dailyPlot) dailyPlot.destroy();
  clear(el);
  dailyPlot = new uPlot(
    {
      width: Math.max(el.clientWidth - 8, 240),
      height: Math.round(10 * remPx()),
      tzDate: TZ_DATE,
      scales: { x: { time: true } },
      axes: [{ ...axis(), size: Math.round(2.6 * remPx()), space: Math.round(4 * remPx()), values: (u, vals) => vals.map((v) => fmtDate(v * 1000).slice(0, 5)) }, { ...axis(), size: yAxisSize, values: (u, vals) => vals.map((v) => fmtNumber(v)) }],
      series: [{}, { label: t("legend.cases"), stroke: "#ff8a80", fill: "rgba(255,138,128,.15)", width: 2, points: { show: true } }],
      legend: { show: false },
    },
    [xs, ys],
    el,
  );
  el.setAttribute("aria-label", `${t("ioc.perDay")}: ${daily.map((d) => `${fmtDate(d.day + "T12:00:00+07:00")} ${d.count}`).join(", ")}`);
  el.setAttribute("role", "img");
}

async function series(ds, from, to) {
  const filter = `phenomenonTime ge ${from.toISOString()} and phenomenonTime le ${to.toISOString()}`;
  const url = `/sta/v1.1/Datastreams(${ds.id})/Observations?$select=phenomenonTime,result&$orderby=phenomenonTime%20desc&$top=10000&$filter=${encodeURIComponent(filter)}`;
  let obs = [];
  try {
    obs = items(await api(url));
  } catch {
    return null;
  }
  return obs
    .map((o) => [new Date(String(o.phenomenonTime).split("/")[0]).getTime() / 1000, Number(o.result)])
    .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y))
    .sort((a, b) => a[0] - b[0]);
}

function plotOne(box, ds, pts, [from, to]) {
  const en = getLang() === "en";
  const u = unit(ds.unit);
  const title = `${en ? ds.property_en : ds.property_vi}${u ? ` (${u})` : ""}`;
  const fig = h("figure.param", { dataset: { property: ds.property } }, h("figcaption", title));
  box.append(fig);
  if (!pts) return fig.append(h("p.muted", t("ioc.loadFailed")));
  if (!pts.length) return fig.append(h("p.muted", t("ioc.noData")));
  const xs = pts.map((p) => p[0]);
  const lines = [ds.warn_at, ds.bad_at].filter((v) => v != null);
  const ys = pts.map((p) => p[1]);
  const lo = Math.min(...ys, ...lines);
  const hi = Math.max(...ys, ...lines);
  const pad = (hi - lo || Math.abs(hi) || 1) * 0.08;
  const plot = new uPlot(
    {
      width: Math.max(fig.clientWidth - 8, 240),
      height: Math.round(9 * remPx()),
      tzDate: TZ_DATE,
      scales: { x: { time: true, range: () => [from.getTime() / 1000, to.getTime() / 1000] }, y: { range: () => [lo - pad, hi + pad] } },
      axes: [{ ...axis(), size: Math.round(2.6 * remPx()), space: Math.round(4 * remPx()), values: tickLabel(to - from) }, { ...axis(), size: yAxisSize, values: (u2, vals) => vals.map((v) => fmtNumber(v, 2)) }],
      series: [
        {},
        { label: title, stroke: "#4fc3f7", width: 2 },
        ...lines.map((v, i) => ({ label: `${t(i ? "legend.bad" : "legend.warn")} ${fmtNumber(v, 2)}`, stroke: i ? "#ff6b6b" : "#ffd54f", dash: [6, 4], width: 1.5, points: { show: false } })),
      ],
      legend: { show: false },
    },
    [xs, ys, ...lines.map((v) => xs.map(() => v))],
    fig,
  );
  plots.push(plot);
  const marks = lines.map((v, i) => `${t(i ? "legend.bad" : "legend.warn")} ${fmtNumber(v, 2)}`).join(", ");
  fig.setAttribute("aria-label", `${title}: ${fmtNumber(ys[ys.length - 1], 2)}${marks ? ` (${marks})` : ""}`);
  fig.dataset.points = String(ys.length);
  fig.dataset.thresholds = String(lines.length);
}

let drawing = 0;

/** Chart every datastream of ``station`` over the chosen range. */
export async function drawStation(station) {
  chartState.station = station;
  const en = getLang() === "en";
  const params = station.datastreams.map((ds) => `${en ? ds.property_en : ds.property_vi}${unit(ds.unit) ? ` (${unit(ds.unit)})` : ""}`);
  $("#series-title").textContent = `${station.name} – ${params.join(", ")}`;
  const box = $("#series-chart");
  const range = span();
  const mine = ++drawing;
  const data = await Promise.all(station.datastreams.map((ds) => series(ds, ...range)));
  if (mine !== drawing) return; // a newer pick, range or refresh draws instead
  while (plots.length) plots.pop().destroy();
  clear(box);
  station.datastreams.forEach((ds, i) => plotOne(box, ds, data[i], range));
  // the token makes an older draw's forecast band, still loading, see a different station and add nothing
  const token = `${station.id}#${mine}`;
  box.dataset.station = token;
  drawForecasts({ ...station, id: token }); // helper B's forecast band (#16), below the station's charts
}

export function rangePicker(onChange) {
  const bar = clear($("#range"));
  const from = h("input.day", { type: "text", inputmode: "numeric", placeholder: "dd/mm/yyyy", pattern: "\\d{1,2}/\\d{1,2}/\\d{4}", "aria-label": t("ioc.from"), id: "range-from" });
  const to = h("input.day", { type: "text", inputmode: "numeric", placeholder: "dd/mm/yyyy", pattern: "\\d{1,2}/\\d{1,2}/\\d{4}", "aria-label": t("ioc.to"), id: "range-to" });
  const custom = h("span.custom", { hidden: chartState.range !== "custom" }, from, "–", to);
  const apply = h("button.btn", { type: "button" }, t("ioc.apply"));
  const error = h("span.range-error", { role: "alert" });
  apply.addEventListener("click", () => {
    const a = parseDay(from.value);
    const b = parseDay(to.value);
    if (!a || !b || b < a) {
      error.textContent = t("ioc.badRange");
      return;
    }
    error.textContent = "";
    chartState.from = a;
    chartState.to = new Date(b.getTime() + 24 * HOUR - 1000);
    onChange();
  });
  custom.append(apply, error);
  for (const key of [...Object.keys(RANGES), "custom"]) {
    const b = h("button.range-btn", { type: "button", "aria-pressed": String(chartState.range === key), dataset: { range: key } }, t(`ioc.range.${key}`));
    b.addEventListener("click", () => {
      chartState.range = key;
      for (const other of bar.querySelectorAll(".range-btn")) other.setAttribute("aria-pressed", String(other === b));
      custom.hidden = key !== "custom";
      if (key !== "custom") onChange();
    });
    bar.append(b);
  }
  bar.append(custom);
}

/** Redraw the charts at the new size (a window resized, a wall switched on at another resolution). */
export function resizeCharts() {
  if (dailyPlot) drawDaily(lastDaily);
  if (chartState.station) drawStation(chartState.station);
}
