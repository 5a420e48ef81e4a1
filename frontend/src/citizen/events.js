// The public calendar: festivals, vaccination days, school enrolment periods (places of type public_event),
// upcoming first, by category; the last fetched calendar is kept for offline use.
import { api, items } from "../common/api.js";
import { clear, h } from "../common/dom.js";
import { fmtDate, fmtDateTime, localDayKey } from "../common/format.js";
import { errorText } from "../common/errors.js";
import { t } from "../common/i18n.js";

const URL = "/api/v1/places?type=public_event&limit=500";
const CACHE = "cityops.events";
const CATEGORIES = ["festival", "vaccination", "enrolment", "other"];

function when(a) {
  const start = fmtDate(`${a.start_date}T12:00:00+07:00`);
  const end = a.end_date && a.end_date !== a.start_date ? ` – ${fmtDate(`${a.end_date}T12:00:00+07:00`)}` : "";
  return `${start}${end}${a.hours ? ` · ${a.hours}` : ""}`;
}

export async function viewEvents(main) {
  let data;
  let offlineAt = null;
  try {
    data = items(await api(URL));
    try { localStorage.setItem(CACHE, JSON.stringify({ at: new Date().toISOString(), data })); } catch { /* full */ }
  } catch (err) {
    const saved = JSON.parse(localStorage.getItem(CACHE) || "null");
    if (!saved) {
      main.append(h("h1", t("events.title")), h("p.error", errorText(err)));
      return;
    }
    data = saved.data;
    offlineAt = saved.at;
  }
  const today = localDayKey(new Date());
  const upcoming = data
    .filter((e) => (e.attributes?.end_date || e.attributes?.start_date || "") >= today)
    .sort((a, b) => (a.attributes.start_date || "").localeCompare(b.attributes.start_date || "") || a.id - b.id);
  let category = "";
  const list = h("ul.list", { id: "events-list" });
  const chips = h("div.chips", { role: "group", "aria-label": t("events.title") },
    ["", ...CATEGORIES].map((c) => h("button.chip", { type: "button", "data-cat": c, "aria-pressed": String(c === category), onclick: () => { category = c; show(); } }, c ? t(`events.cat.${c}`) : t("events.all"))));

  function show() {
    for (const b of chips.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b.dataset.cat === category));
    clear(list);
    const shown = upcoming.filter((e) => !category || e.attributes.category === category);
    if (!shown.length) list.append(h("li.muted", t("events.none")));
    for (const e of shown) {
      const a = e.attributes || {};
      list.append(
        h("li.event", { dataset: { id: e.id, category: a.category || "other" } },
          h("strong", e.name),
          h("div.muted", when(a)),
          h("div", h("span.badge", t(`events.cat.${a.category || "other"}`)), a.venue ? ` ${a.venue}` : ""),
          a.description ? h("p", a.description) : null),
      );
    }
  }
  main.append(h("h1", t("events.title")), offlineAt ? h("p.muted", t("events.offline", { at: fmtDateTime(offlineAt) })) : null, chips, list);
  show();
}
