// "Near me": the nearest health stations, clinics, hospitals, schools, tourist sites and one-stop shops, by
// distance, open now, name search without diacritics, a detail card; the last fetched list of each kind is
// kept in localStorage so the page works offline.
import { api } from "../common/api.js";
import { announce, clear, h } from "../common/dom.js";
import { fmtDateTime, fmtNumber } from "../common/format.js";
import { errorText } from "../common/errors.js";
import { t } from "../common/i18n.js";

const URL = "/api/v1/public-services/nearby";
export const KINDS = [
  ["health", ["health_station", "clinic", "hospital"]],
  ["school", ["school"]],
  ["tourism", ["tourist_site", "accommodation"]],
  ["office", ["public_service_office"]],
];
// The centre of Tân An, used until the browser gives a position (or when it refuses).
const DEFAULT_POINT = { lat: 10.5359, lon: 106.4137 };
const CACHE = "cityops.nearby.";

/** Lower case without diacritics (đ → d), as the server's search key. */
export function fold(s) {
  return String(s || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/đ/g, "d").replace(/Đ/g, "d").toLowerCase();
}

function distanceText(m) {
  return m < 1000 ? `${fmtNumber(m)} m` : `${fmtNumber(m / 1000, 1)} km`;
}

function position() {
  return new Promise((resolve) => {
    if (!navigator.geolocation) return resolve(null);
    navigator.geolocation.getCurrentPosition(
      (p) => resolve({ lat: p.coords.latitude, lon: p.coords.longitude }),
      () => resolve(null),
      { timeout: 8000, maximumAge: 300000 },
    );
  });
}

function openBadge(open) {
  if (open === true) return h("span.badge.open", t("nearby.open"));
  if (open === false) return h("span.badge.closed", t("nearby.closed"));
  return h("span.badge.unknown", t("nearby.hoursUnknown"));
}

function detailCard(item, onClose) {
  const a = item.attributes || {};
  const rows = [
    ["nearby.address", a.address],
    ["nearby.hours", a.opening_hours],
    ["nearby.services", a.services],
    ["nearby.beds", a.beds != null ? fmtNumber(a.beds) : null],
    ["nearby.emergency", a.emergency === true ? t("nearby.yes") : null],
  ].filter(([, v]) => v != null && v !== "");
  return h(
    "section.card.detail",
    { id: "nearby-detail", "aria-labelledby": "nearby-detail-title" },
    h("h2", { id: "nearby-detail-title" }, item.name),
    h("p.muted", `${document.documentElement.lang === "en" ? item.type_name_en : item.type_name_vi} · ${distanceText(item.distance_m)}`, " ", openBadge(item.open_now)),
    h("dl", rows.map(([k, v]) => [h("dt", t(k)), h("dd", String(v))])),
    a.phone ? h("p", h("a.btn", { href: `tel:${a.phone}` }, `${t("nearby.call")} ${a.phone}`)) : null,
    h("p", h("a", { href: `https://www.openstreetmap.org/?mlat=${item.lat}&mlon=${item.lon}#map=17/${item.lat}/${item.lon}`, target: "_blank", rel: "noopener" }, t("nearby.directions"))),
    item.demo ? h("p.muted", t("nearby.demo")) : null,
    h("button.btn.secondary", { type: "button", onclick: onClose }, t("nearby.back")),
  );
}

export async function viewNearby(main) {
  let kind = sessionStorage.getItem("cityops.nearby.kind") || "health";
  let point = null;
  let data = null;
  const list = h("ul.list", { id: "nearby-list", "aria-live": "polite" });
  const status = h("p.muted", { id: "nearby-status" });
  const search = h("input", { type: "search", id: "nearby-q", placeholder: t("nearby.search"), "aria-label": t("nearby.search") });
  const openOnly = h("input", { type: "checkbox", id: "nearby-open" });
  const detail = h("div");
  const tabs = h("div.chips", { role: "group", "aria-label": t("nearby.kind") },
    KINDS.map(([k]) => h("button.chip", { type: "button", "data-kind": k, "aria-pressed": String(k === kind), onclick: () => pick(k) }, t(`nearby.kind.${k}`))));

  function show() {
    clear(list);
    clear(detail);
    if (!data) return;
    const words = fold(search.value).split(/\s+/).filter(Boolean);
    const shown = data.items.filter((i) => words.every((w) => fold(i.name).includes(w)) && (!openOnly.checked || i.open_now === true));
    status.textContent = [
      data.offline ? t("nearby.offline", { at: fmtDateTime(data.fetched_at) }) : t("nearby.asOf", { at: fmtDateTime(data.fetched_at) }),
      data.defaultPoint ? t("nearby.defaultPoint") : "",
    ].filter(Boolean).join(" · ");
    if (!shown.length) list.append(h("li.muted", t("nearby.none")));
    for (const item of shown) {
      list.append(
        h("li.nearby-item", { dataset: { id: item.id } },
          h("button.link", { type: "button", onclick: () => { clear(detail); detail.append(detailCard(item, () => clear(detail))); detail.scrollIntoView({ block: "nearest" }); } },
            h("strong", item.name)),
          h("span.muted", ` · ${distanceText(item.distance_m)} `),
          openBadge(item.open_now)),
      );
    }
  }

  async function load() {
    const types = Object.fromEntries(KINDS)[kind];
    const params = new URLSearchParams({ near: `${point.lat},${point.lon}`, limit: "50" });
    for (const ty of types) params.append("type", ty);
    try {
      const body = await api(`${URL}?${params}`);
      data = { items: body.items, fetched_at: new Date().toISOString(), defaultPoint: point.isDefault };
      try { localStorage.setItem(CACHE + kind, JSON.stringify(data)); } catch { /* storage full or disabled */ }
    } catch (err) {
      const saved = JSON.parse(localStorage.getItem(CACHE + kind) || "null");
      if (saved) data = { ...saved, offline: true };
      else { data = null; announce(errorText(err), "error"); status.textContent = errorText(err); }
    }
    show();
  }

  async function pick(k) {
    kind = k;
    sessionStorage.setItem("cityops.nearby.kind", k);
    for (const b of tabs.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b.dataset.kind === k));
    await load();
  }

  search.addEventListener("input", show);
  openOnly.addEventListener("change", show);
  main.append(
    h("h1", t("nearby.title")),
    tabs,
    h("div.row", search, h("label", openOnly, " ", t("nearby.openNow"))),
    status,
    list,
    detail,
  );
  status.textContent = t("nearby.locating");
  const where = await position();
  point = where || { ...DEFAULT_POINT, isDefault: true };
  await load();
}

/** The services hub: near me, the events calendar, the dossier lookup. */
export function viewServices(main) {
  const card = (href, title, lead) => h("li", h("a.card.link", { href }, h("strong", t(title)), h("span.muted", t(lead))));
  main.append(
    h("h1", t("services.title")),
    h("ul.list.services", card("#/nearby", "services.nearby", "services.nearbyLead"), card("#/events", "services.events", "services.eventsLead"), card("#/dossier", "services.dossier", "services.dossierLead")),
  );
}
