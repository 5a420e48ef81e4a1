// Agency scorecards (this month, the public scorecards: read from the case indicators' agency cells of the
// scope) and KPI trends read from indicator values for the
// drill-down scope: this year's months of on-time handling and satisfaction, with the change since last month.
import { api } from "../common/api.js";
import { clear, h, $ } from "../common/dom.js";
import { EP } from "../common/endpoints.js";
import { fmtMeasure, fmtNumber } from "../common/format.js";
import { t } from "../common/i18n.js";
import { scoped } from "./scope.js";

const TRENDS = ["cases.on_time_rate", "cases.satisfied_share", "cases.median_handling_hours", "cases.received"];
const BARS = "▁▂▃▄▅▆▇█";

function spark(values) {
  const known = values.filter((v) => v != null);
  if (!known.length) return "–";
  const lo = Math.min(...known);
  const hi = Math.max(...known);
  return values.map((v) => (v == null ? " " : BARS[hi === lo ? 3 : Math.round(((v - lo) / (hi - lo)) * 7)])).join("");
}

async function trend(code, from) {
  try {
    const [ind, page] = await Promise.all([api(EP.indicator(code)), api(scoped(`${EP.indicatorValues(code)}?from=${from}&limit=400`))]);
    const monthly = (page.items || []).filter((v) => v.period_start.endsWith("-01")).slice(-12);
    return { ind, monthly };
  } catch {
    return null;
  }
}

let generation = 0;

export async function loadTrends() {
  const mine = ++generation;
  const now = new Date();
  const from = `${now.getFullYear() - 1}-${String(now.getMonth() + 1).padStart(2, "0")}-01`;
  const en = document.documentElement.lang === "en";
  const found = await Promise.all(TRENDS.map((code) => trend(code, from)));
  if (mine !== generation) return; // a newer scope draws instead
  const box = clear($("#trends"));
  for (const [i, code] of TRENDS.entries()) {
    const got = found[i];
    if (!got || !got.monthly.length) continue;
    const values = got.monthly.map((v) => v.value);
    const last = values[values.length - 1];
    const prev = values.length > 1 ? values[values.length - 2] : null;
    const delta = last != null && prev != null ? last - prev : null;
    const arrow = delta == null ? "" : delta > 0 ? "▲" : delta < 0 ? "▼" : "■";
    box.append(
      h(
        "li.trend",
        { dataset: { code } },
        h("span.trend-name", en ? got.ind.name_en : got.ind.name_vi),
        h("span.spark", { "aria-hidden": "true" }, spark(values)),
        h("strong.trend-value", last == null ? "–" : fmtMeasure(last, got.ind.unit, 1)),
        h("span.trend-delta", delta == null ? "" : `${arrow} ${fmtNumber(Math.abs(delta), 1)}`),
      ),
    );
  }
  if (!box.children.length) box.append(h("li.muted", t("ioc.noData")));
}

export async function loadScorecards() {
  const body = clear($("#score-rows"));
  let data;
  try {
    data = await api(scoped(`${EP.scorecards}?by=agency`));
  } catch {
    body.append(h("tr", h("td.muted", { colSpan: 5 }, t("ioc.loadFailed"))));
    return;
  }
  const rows = (data.rows || []).filter((r) => r.key != null).sort((a, b) => b.received - a.received).slice(0, 8);
  for (const r of rows) {
    const pct = r.on_time_pct == null ? "–" : `${fmtNumber(r.on_time_pct, 1)}%`;
    const sat = r.satisfaction == null ? "–" : `${fmtNumber(r.satisfaction, 1)}/5`;
    body.append(h("tr", h("td", r.name), h("td.num", fmtNumber(r.received)), h("td.num", fmtNumber(r.open)), h("td.num", pct), h("td.num", sat)));
  }
  if (!rows.length) body.append(h("tr", h("td.muted", { colSpan: 5 }, t("ioc.noData"))));
}
