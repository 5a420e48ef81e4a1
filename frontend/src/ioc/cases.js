// The case table: cases of the drill-down scope filtered by state, category and overdue, a page at a time.
// Staff read the inbox (every case for the operator); anyone else the public list (no overdue filter).
// No case text on the wall: reference, category, state, ward, dates.
import { api } from "../common/api.js";
import { categoryName } from "../common/categories.js";
import { clear, h, $ } from "../common/dom.js";
import { EP } from "../common/endpoints.js";
import { fmtDateTime, fmtNumber } from "../common/format.js";
import { t } from "../common/i18n.js";
import { may, scoped } from "./scope.js";

const PAGE = 10;
const STATES = ["submitted", "acknowledged", "assigned", "in_progress", "reopened", "resolved", "closed", "rejected"];
export const caseState = { offset: 0, state: "", category: "", overdue: false, categories: [], areaNames: new Map() };

function query() {
  const q = new URLSearchParams({ limit: String(PAGE), offset: String(caseState.offset) });
  if (caseState.state) q.append("state", caseState.state);
  if (caseState.category) q.set("category", caseState.category);
  if (caseState.overdue && may("ioc.view_staff")) q.set("overdue", "true");
  return q.toString();
}

let generation = 0;

export async function loadCases() {
  const staff = may("ioc.view_staff");
  const url = scoped(`${staff ? EP.inbox : EP.publicList}?${query()}`);
  const mine = ++generation;
  let data = null;
  try {
    data = await api(url);
  } catch {
    data = null;
  }
  if (mine !== generation) return; // a newer request (filter, page, scope) draws instead
  const body = clear($("#case-rows"));
  if (!data) {
    body.append(h("tr", h("td.muted", { colSpan: 6 }, t("ioc.loadFailed"))));
    return;
  }
  for (const c of data.items || []) {
    body.append(
      h(
        `tr${c.overdue ? ".overdue" : ""}`,
        h("td", c.ref),
        h("td", c.category_name && !staff ? categoryName(caseState.categories, c.category) || c.category_name : categoryName(caseState.categories, c.category)),
        h("td", t(`state.${c.state}`)),
        h("td", c.area_name || caseState.areaNames.get(c.area_id) || "–"),
        h("td.num", fmtDateTime(c.submitted_at)),
        h("td.num", c.overdue ? h("strong.bad", t("kpi.overdue")) : fmtDateTime(c.due_at || c.expected_at) || "–"),
      ),
    );
  }
  if (!(data.items || []).length) body.append(h("tr", h("td.muted", { colSpan: 6 }, t("ioc.noCases"))));
  const total = Number(data.total || 0);
  const from = total ? caseState.offset + 1 : 0;
  const to = Math.min(caseState.offset + PAGE, total);
  $("#case-count").textContent = t("ioc.casesShown", { from: fmtNumber(from), to: fmtNumber(to), total: fmtNumber(total) });
  $("#case-prev").disabled = caseState.offset === 0;
  $("#case-next").disabled = caseState.offset + PAGE >= total;
}

function select(id, options, value, onChange) {
  const el = clear($(id));
  for (const [v, label] of options) el.append(h("option", { value: v, selected: v === value }, label));
  el.onchange = () => onChange(el.value);
}

export function caseFilters(categories) {
  caseState.categories = categories;
  const refresh = () => {
    caseState.offset = 0;
    loadCases();
  };
  select("#case-state", [["", t("ioc.allStates")], ...STATES.map((s) => [s, t(`state.${s}`)])], caseState.state, (v) => ((caseState.state = v), refresh()));
  select("#case-category", [["", t("ioc.allCategories")], ...categories.map((c) => [c.code, categoryName(categories, c.code)])], caseState.category, (v) => ((caseState.category = v), refresh()));
  const overdue = $("#case-overdue");
  overdue.checked = caseState.overdue;
  overdue.closest("label").hidden = !may("ioc.view_staff");
  overdue.onchange = () => ((caseState.overdue = overdue.checked), refresh());
  $("#case-prev").onclick = () => ((caseState.offset = Math.max(0, caseState.offset - PAGE)), loadCases());
  $("#case-next").onclick = () => ((caseState.offset += PAGE), loadCases());
}
