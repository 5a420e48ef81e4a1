// Forecast band (#16): under a station's charts, each datastream that has forecasts gets one more chart — the
// last 48 h of observations beside the latest forecast run (one point per lead time) with a band of ± the
// backtest RMSE of what is published at that lead. It says when the forecast was issued, whether a lead
// shows a baseline instead of the model, and "synthetic" when the skill comes from the simulator's series.
import uPlot from "uplot";
import { api, items } from "../common/api.js";
import { $, h } from "../common/dom.js";
import { fmtDateTime, fmtNumber } from "../common/format.js";
import { getLang } from "../common/i18n.js";

const HOUR = 3600;
const AXIS = { stroke: "#b8c7d6", grid: { stroke: "rgba(255,255,255,.08)" }, ticks: { stroke: "rgba(255,255,255,.15)" } };
const tx = (vi, en) => (getLang() === "en" ? en : vi);

async function observed(dsId, from, to) {
  const filter = `phenomenonTime ge ${new Date(from * 1000).toISOString()} and phenomenonTime le ${new Date(to * 1000).toISOString()}`;
  const url = `/sta/v1.1/Datastreams(${dsId})/Observations?$select=phenomenonTime,result&$orderby=phenomenonTime%20desc&$top=2000&$filter=${encodeURIComponent(filter)}`;
  try {
    return items(await api(url))
      .map((o) => [new Date(String(o.phenomenonTime).split("/")[0]).getTime() / 1000, Number(o.result)])
      .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y))
      .sort((a, b) => a[0] - b[0]);
  } catch {
    return [];
  }
}

async function optional(path) {
  try {
    return await api(path);
  } catch {
    return null; // 404: this datastream has no forecast (or no backtest yet)
  }
}

function plot(fig, obs, run, rmse) {
  const pts = run.points.map((p) => [new Date(p.time).getTime() / 1000, p.value, rmse[p.lead_hours] ?? 0]);
  const xs = [...new Set([...obs.map((o) => o[0]), ...pts.map((p) => p[0])])].sort((a, b) => a - b);
  const at = (list) => new Map(list.map((p) => [p[0], p]));
  const o = at(obs);
  const f = at(pts);
  const col = (fn) => xs.map((x) => fn(x) ?? null);
  const data = [
    xs,
    col((x) => o.get(x)?.[1]),
    col((x) => f.get(x)?.[1]),
    col((x) => (f.has(x) ? f.get(x)[1] - f.get(x)[2] : undefined)),
    col((x) => (f.has(x) ? f.get(x)[1] + f.get(x)[2] : undefined)),
  ];
  const em = parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
  const u = new uPlot(
    {
      width: Math.max(fig.clientWidth - 8, 240),
      height: Math.round(9 * em),
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Asia/Ho_Chi_Minh"),
      axes: [AXIS, { ...AXIS, values: (_u, vals) => vals.map((v) => fmtNumber(v, 2)) }],
      series: [
        {},
        { label: tx("Quan trắc", "Observed"), stroke: "#4fc3f7", width: 2 },
        { label: tx("Dự báo", "Forecast"), stroke: "#ffb74d", width: 2, dash: [6, 4], spanGaps: true },
        { label: tx("Cận dưới", "Lower"), stroke: "rgba(255,183,77,.4)", width: 1, spanGaps: true, points: { show: false } },
        { label: tx("Cận trên", "Upper"), stroke: "rgba(255,183,77,.4)", width: 1, spanGaps: true, points: { show: false } },
      ],
      bands: [{ series: [4, 3], fill: "rgba(255,183,77,.18)" }],
      legend: { show: false },
    },
    data,
    fig,
  );
  return u;
}

/** Add the forecast band of every forecast datastream of ``station`` below its charts. */
export async function drawForecasts(station) {
  const box = $("#series-chart");
  if (!box || !station) return;
  box.querySelectorAll("figure.forecast").forEach((f) => f.remove());
  for (const ds of station.datastreams || []) {
    const run = await optional(`/api/v1/forecasts/${ds.id}/latest`);
    if (!run || !run.points.length || box.dataset.station !== String(station.id)) continue;
    const bt = await optional(`/api/v1/forecasts/${ds.id}/backtest`);
    const rmse = {};
    for (const lead of bt?.leads || []) {
      const key = lead.published === lead.model ? "model" : lead.published === "persistence" ? "persistence" : "seasonal_naive";
      rmse[lead.lead_hours] = lead.rmse[key] ?? 0;
    }
    const baseline = run.points.filter((p) => p.baseline).map((p) => `${p.lead_hours} h`);
    const name = `${tx(ds.property_vi, ds.property_en) || ds.property || ""}`;
    const fig = h(
      "figure.param.forecast",
      { dataset: { property: ds.property || "", forecastPoints: String(run.points.length), synthetic: String(run.synthetic) } },
      h("figcaption", `${tx("Dự báo", "Forecast")} ${name} – ${tx("phát hành lúc", "issued at")} ${fmtDateTime(run.issued_at)}`),
    );
    box.append(fig);
    const issued = new Date(run.issued_at).getTime() / 1000;
    const obs = await observed(ds.id, issued - 48 * HOUR, issued);
    plot(fig, obs, run, rmse);
    const notes = [tx("Dải: ± sai số RMSE của kiểm định ngược tại từng hạn dự báo.", "Band: ± the backtest RMSE at each lead.")];
    if (baseline.length) notes.push(tx(`Đường cơ sở (mô hình chưa tốt hơn) ở hạn ${baseline.join(", ")}.`, `Baseline (the model does not beat it) at ${baseline.join(", ")}.`));
    if (run.synthetic || bt?.synthetic) notes.push(tx("Số liệu mô phỏng (synthetic).", "Synthetic (simulated) data."));
    fig.append(h("p.muted.forecast-note", notes.join(" ")));
    fig.setAttribute("aria-label", `${tx("Dự báo", "Forecast")} ${name}: ${run.points.map((p) => `${p.lead_hours} h ${fmtNumber(p.value, 2)}`).join(", ")}`);
  }
}
