// Citizen PWA: report a problem (photo, pin, category + questions, description), offline outbox,
// my reports with their timeline, rating and reopening, public map, alerts for my area.
import "./citizen.css";
import { api, items } from "../common/api.js";
import { $, announce, clear, h } from "../common/dom.js";
import { EP } from "../common/endpoints.js";
import { serialRenderer } from "../common/router.js";
import { esc, fmtDate, fmtDateTime } from "../common/format.js";
import { errorText } from "../common/errors.js";
import { questionLabel, questionValues } from "../common/categories.js";
import { applyI18n, getLang, langToggle, nameOf, t } from "../common/i18n.js";
import { flush, startAutoFlush } from "./outbox.js";
import { mine, newKey, outbox } from "./store.js";
import "./services.css"; // near me, events and the dossier lookup load on demand (first-load budget)
import { viewBulletins } from "./bulletins.js";

const main = $("#main");
// Leaflet is loaded with the first view that shows a map (the service worker precaches it for offline use).
const loadMap = () => import("../common/map.js");
import { alertAge, alertsLoadFailed } from "./alerts-age.js";
let categories = null;
let currentMap = null;

async function loadCategories() {
  if (categories) return categories;
  try {
    categories = items(await api(EP.categories));
    localStorage.setItem("cityops.categories", JSON.stringify(categories));
  } catch {
    categories = JSON.parse(localStorage.getItem("cityops.categories") || "[]");
  }
  return categories;
}

function stateBadge(state) {
  return h(`span.badge.state-${state || "submitted"}`, t(`state.${state || "submitted"}`));
}

function dropMap() {
  if (currentMap) {
    currentMap.remove();
    currentMap = null;
  }
}

// ---- network status and outbox count ----
async function refreshNet() {
  const el = $("#net");
  const n = await outbox.count().catch(() => 0);
  if (!navigator.onLine) {
    el.textContent = t("net.offline") + (n ? ` · ${t("net.pending", { n })}` : "");
    el.hidden = false;
    el.dataset.kind = "offline";
  } else if (n) {
    el.textContent = t("net.pending", { n });
    el.hidden = false;
    el.dataset.kind = "pending";
  } else {
    el.hidden = true;
  }
}

// ---- views ----
async function viewHome() {
  const list = h("ul.cards", { id: "recent" });
  const alertsBox = h("div", { id: "home-alerts" });
  main.append(
    h("section.hero", h("h1", t("home.title")), h("p", t("home.lead")), h("a.btn.btn-primary.btn-big", { href: "#/report" }, t("home.cta"))),
    h("section", h("h2", t("home.alerts")), alertsBox),
    h("p", h("a.btn", { href: "#/bulletins", id: "home-bulletins" }, getLang() === "en" ? "Salinity bulletins for farmers" : "Bản tin mặn cho nhà nông")),
    h("section", h("h2", t("home.recent")), list),
  );
  const reports = (await mine.all()).slice(0, 5);
  const pending = await outbox.all();
  for (const p of pending) list.append(pendingCard(p));
  for (const r of reports) list.append(reportCard(r));
  if (!reports.length && !pending.length) list.append(h("li.muted", t("home.none")));
  const areaName = localStorage.getItem("cityops.areaName");
  if (areaName) alertsBox.before(h("p.muted", `${t("alerts.myArea")}: ${areaName}`));
  renderAlerts(alertsBox, true, 3);
}

function pendingCard(p) {
  return h(
    "li.card.pending",
    h("div.card-top", h("span.badge.state-pending", t("mine.pending")), h("span.muted", fmtDateTime(p.createdAt))),
    h("p", p.payload.description || nameOf(categories?.find((c) => c.code === p.payload.category))),
    p.failed ? h("p.error", p.failed) : null,
  );
}

function reportCard(r) {
  const cat = categories?.find((c) => c.code === r.category);
  return h(
    "li.card",
    h(
      "a.card-link",
      { href: `#/case/${encodeURIComponent(r.ref)}` },
      h("div.card-top", h("strong", r.ref), stateBadge(r.state)),
      h("p", nameOf(cat) || r.category || ""),
      h("p.muted", r.description ? r.description.slice(0, 120) : ""),
      h("span.muted", fmtDate(r.submittedAt)),
    ),
  );
}

async function viewReport() {
  const [cats, { L, createMap, drawAreas, pinIcon }] = await Promise.all([loadCategories(), loadMap()]);
  const photos = [];
  const previews = h("div.previews", { id: "previews" });
  const takeInput = h("input.visually-hidden", { type: "file", id: "photo-take", accept: "image/*", capture: "environment" });
  const pickInput = h("input.visually-hidden", { type: "file", id: "photo-pick", accept: "image/*", multiple: true });
  const addFiles = (files) => {
    for (const f of files) {
      if (photos.length >= 5) break;
      photos.push({ blob: f, name: f.name, type: f.type });
    }
    renderPreviews();
  };
  const renderPreviews = () => {
    clear(previews);
    photos.forEach((p, i) => {
      const url = URL.createObjectURL(p.blob);
      previews.append(
        h(
          "figure.preview",
          h("img", { src: url, alt: `${t("report.photo")} ${i + 1}` }),
          h("button.btn-small", { type: "button", onclick: () => (photos.splice(i, 1), renderPreviews()) }, t("report.removePhoto")),
        ),
      );
    });
  };
  takeInput.addEventListener("change", () => addFiles(takeInput.files));
  pickInput.addEventListener("change", () => addFiles(pickInput.files));

  const latInput = h("input", { id: "lat", name: "lat", type: "number", step: "any", inputmode: "decimal", required: true });
  const lonInput = h("input", { id: "lon", name: "lon", type: "number", step: "any", inputmode: "decimal", required: true });
  let accuracy = null;
  const catSelect = h(
    "select",
    { id: "category", name: "category", required: true },
    h("option", { value: "" }, t("report.chooseCategory")),
    cats.map((c) => h("option", { value: c.code }, nameOf(c))),
  );
  const questions = h("div", { id: "questions" });
  catSelect.addEventListener("change", () => renderQuestions(questions, cats.find((c) => c.code === catSelect.value)));
  const desc = h("textarea", { id: "description", name: "description", rows: 4, maxlength: 4000, "aria-describedby": "desc-help" });
  const nameI = h("input", { id: "rname", name: "name", autocomplete: "name" });
  const phoneI = h("input", { id: "rphone", name: "phone", type: "tel", autocomplete: "tel" });
  const consent = h("input", { id: "consent", type: "checkbox", required: true });
  const mapEl = h("div.map.map-pick", { id: "pick-map", role: "application", "aria-label": t("report.location") });
  const gpsBtn = h("button.btn", { type: "button", id: "gps" }, t("report.useGps"));

  const form = h(
    "form.stack",
    { id: "report-form", novalidate: true },
    h("h1", t("report.title")),
    h(
      "fieldset",
      h("legend", t("report.photo")),
      h("div.row", h("label.btn", { for: "photo-take" }, t("report.takePhoto")), takeInput, h("label.btn", { for: "photo-pick" }, t("report.pickPhoto")), pickInput),
      previews,
    ),
    h(
      "fieldset",
      h("legend", t("report.location")),
      h("p.help", t("report.locHelp")),
      mapEl,
      h("div.row", gpsBtn),
      h("div.coords", h("div.field", h("label", { for: "lat" }, t("report.lat")), latInput), h("div.field", h("label", { for: "lon" }, t("report.lon")), lonInput)),
    ),
    h("div.field", h("label", { for: "category" }, t("report.category")), catSelect),
    questions,
    h("div.field", h("label", { for: "description" }, t("report.description")), desc, h("p.help", { id: "desc-help" }, t("report.descHelp"))),
    h("div.field", h("label", { for: "rname" }, t("report.name")), nameI),
    h("div.field", h("label", { for: "rphone" }, t("report.phone")), phoneI),
    h("p.help", { id: "public-notice" }, t("report.publicNotice")),
    h("div.check", consent, h("label", { for: "consent" }, t("report.consent"))),
    h("p.error", { id: "form-error", role: "alert" }),
    h("button.btn.btn-primary.btn-big", { type: "submit", id: "submit" }, t("report.submit")),
  );
  main.append(form);

  const map = createMap(mapEl, { zoom: 10 });
  currentMap = map;
  drawAreas(map, { fit: false });
  let marker = null;
  const place = (lat, lon, acc = null, pan = true) => {
    latInput.value = lat.toFixed(6);
    lonInput.value = lon.toFixed(6);
    accuracy = acc;
    if (!marker) {
      marker = L.marker([lat, lon], { draggable: true, icon: pinIcon("pin-report"), keyboard: true, title: t("report.location") }).addTo(map);
      marker.on("dragend", () => {
        const p = marker.getLatLng();
        place(p.lat, p.lng, null, false);
      });
    } else marker.setLatLng([lat, lon]);
    if (pan) map.setView([lat, lon], Math.max(map.getZoom(), 15));
  };
  map.on("click", (e) => place(e.latlng.lat, e.latlng.lng, null, false));
  const onCoordInput = () => {
    const lat = Number(latInput.value);
    const lon = Number(lonInput.value);
    if (latInput.value && lonInput.value && Number.isFinite(lat) && Number.isFinite(lon)) place(lat, lon, null);
  };
  latInput.addEventListener("change", onCoordInput);
  lonInput.addEventListener("change", onCoordInput);
  const locate = () => {
    if (!navigator.geolocation) return;
    navigator.geolocation.getCurrentPosition(
      (pos) => {
        place(pos.coords.latitude, pos.coords.longitude, pos.coords.accuracy);
        rememberArea(pos.coords.latitude, pos.coords.longitude);
      },
      () => announce(t("report.gpsFailed"), "warn"),
      { enableHighAccuracy: true, timeout: 10000, maximumAge: 60000 },
    );
  };
  gpsBtn.addEventListener("click", locate);
  locate();

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const err = $("#form-error");
    err.textContent = "";
    const lat = Number(latInput.value);
    const lon = Number(lonInput.value);
    if (!latInput.value || !lonInput.value || !Number.isFinite(lat) || !Number.isFinite(lon)) return (err.textContent = t("report.needLocation"), latInput.focus());
    if (!catSelect.value) return (err.textContent = t("report.needCategory"), catSelect.focus());
    if (!consent.checked) return (err.textContent = t("report.needConsent"), consent.focus());
    const answers = collectAnswers(questions);
    const payload = {
      category: catSelect.value,
      description: desc.value.trim(),
      lat,
      lon,
      answers,
      consent: true,
    };
    if (accuracy != null) payload.accuracy_m = Math.round(accuracy);
    const reporter = {};
    if (nameI.value.trim()) reporter.name = nameI.value.trim();
    if (phoneI.value.trim()) reporter.phone = phoneI.value.trim();
    if (Object.keys(reporter).length) payload.reporter = reporter;
    const item = { key: newKey(), createdAt: new Date().toISOString(), payload, photos, mediaIds: [] };
    await outbox.put(item);
    form.querySelector("#submit").disabled = true;
    if (!navigator.onLine) {
      announce(t("report.queued"));
      await refreshNet();
      location.hash = "#/mine";
      return;
    }
    const sent = await flush();
    const mineNow = sent.find((s) => s && s.ref);
    if (mineNow) {
      announce(t("report.sent", { ref: mineNow.ref }), "ok");
      location.hash = `#/case/${encodeURIComponent(mineNow.ref)}`;
    } else {
      announce(t("report.queued"));
      location.hash = "#/mine";
    }
    refreshNet();
  });
}

/** Remember the ward around the device, for "alerts for my area". */
async function rememberArea(lat, lon) {
  try {
    const found = await api(EP.areaLookup(lat.toFixed(5), lon.toFixed(5)));
    localStorage.setItem("cityops.area", String(found.area.id));
    localStorage.setItem("cityops.areaName", found.area.name);
  } catch {
    /* outside the province or offline: keep the previous one */
  }
}

function renderQuestions(box, cat) {
  clear(box);
  for (const q of cat?.questions || []) {
    const id = `q-${q.code}`;
    const label = h("label", { for: id }, questionLabel(q) + (q.required ? " *" : ""));
    let input;
    const values = questionValues(q);
    if (q.datatype === "singlevaluelist") {
      input = h("select", { id, required: q.required }, h("option", { value: "" }, "—"), values.map((v) => h("option", { value: v.key }, v.name)));
    } else if (q.datatype === "multivaluelist") {
      input = h("select", { id, multiple: true, required: q.required }, values.map((v) => h("option", { value: v.key }, v.name)));
    } else if (q.datatype === "number") {
      input = h("input", { id, type: "number", step: "any", required: q.required });
    } else if (q.datatype === "date" || q.datatype === "datetime") {
      input = h("input", { id, type: "date", required: q.required });
    } else if (q.datatype === "text") {
      input = h("textarea", { id, rows: 2, maxlength: q.max_length || 500, required: q.required });
    } else {
      input = h("input", { id, maxlength: q.max_length || 500, required: q.required });
    }
    input.dataset.code = q.code;
    input.dataset.datatype = q.datatype;
    box.append(h("div.field", label, input, q.description ? h("p.help", q.description) : null));
  }
}

function collectAnswers(box) {
  const out = {};
  for (const el of box.querySelectorAll("[data-code]")) {
    const dt = el.dataset.datatype;
    if (dt === "multivaluelist") {
      const v = Array.from(el.selectedOptions).map((o) => o.value);
      if (v.length) out[el.dataset.code] = v;
    } else if (el.value !== "") {
      out[el.dataset.code] = dt === "number" ? Number(el.value) : el.value;
    }
  }
  return out;
}

async function viewMine() {
  await loadCategories();
  const list = h("ul.cards", { id: "mine-list" });
  const retry = h("button.btn", { type: "button", id: "retry" }, t("mine.retry"));
  retry.addEventListener("click", async () => {
    await flush();
    route();
  });
  main.append(h("h1", t("mine.title")), list);
  const pending = await outbox.all();
  if (pending.length) main.insertBefore(h("div.row", retry), list);
  for (const p of pending) list.append(pendingCard(p));
  const reports = await mine.all();
  for (const r of reports) list.append(reportCard(r));
  if (!reports.length && !pending.length) list.append(h("li.muted", t("home.none")));
  // refresh states in the background
  for (const r of reports) {
    if (!r.token) continue;
    api(EP.track(r.token))
      .then(async (c) => {
        if (c && c.state && c.state !== r.state) {
          await mine.put({ ...r, state: c.state });
        }
      })
      .catch(() => {});
  }
}

function mediaList(list, role) {
  return (list || []).filter((m) => (m.role || "report") === role);
}

async function viewCase(ref) {
  await loadCategories();
  ref = decodeURIComponent(ref);
  const local = await mine.get(ref);
  let c;
  try {
    c = await api(local?.token ? EP.track(local.token) : EP.publicCase(ref));
  } catch (err) {
    main.append(h("p.error", err.status === 404 ? t("case.notFound") : errorText(err)));
    return;
  }
  if (local && c.state !== local.state) mine.put({ ...local, state: c.state });
  const cat = categories?.find((x) => x.code === c.category);
  const tl = h("ol.timeline", { id: "timeline" });
  for (const ev of c.timeline || []) {
    tl.append(
      h(
        "li",
        h("time", fmtDateTime(ev.at)),
        h("strong", ev.to_state ? t(`state.${ev.to_state}`) : t(`action.${ev.action || ev.kind}`)),
        ev.comment ? h("p", ev.comment) : null,
      ),
    );
  }
  const img = (m, alt) => h("img", { src: m.thumbnail_url || m.url, alt, loading: "lazy" });
  const photos = h("div.gallery", { id: "photos" }, mediaList(c.media, "report").map((m) => img(m, t("case.photos"))));
  const after = mediaList(c.media, "after");
  const afterBox = after.length ? h("section", { id: "after" }, h("h2", t("case.after")), h("div.gallery", after.map((m) => img(m, t("case.after"))))) : null;
  // the reporter's own photos from this device, until staff publish them
  const own = !mediaList(c.media, "report").length && local?.photos?.length
    ? h("section", { id: "my-photos" }, h("h2", t("case.myPhotos")), h("div.gallery", local.photos.map((b, i) => h("img", { src: URL.createObjectURL(b), alt: `${t("report.photo")} ${i + 1}` }))))
    : null;
  const mapEl = c.lat != null && c.lon != null ? h("div.map.case-map", { id: "case-map", role: "img", "aria-label": `${t("case.location")}: ${c.area_name || ""}` }) : null;
  main.append(
    h(
      "article.case",
      h("div.card-top", h("h1", c.ref), stateBadge(c.state)),
      h("p", h("strong", nameOf(cat) || c.category_name || c.category || "")),
      c.description ? h("p", c.description) : null,
      h(
        "dl.meta",
        h("dt", t("case.submitted")),
        h("dd", fmtDateTime(c.submitted_at)),
        c.expected_at && ["submitted", "acknowledged", "assigned", "in_progress", "reopened"].includes(c.state)
          ? [h("dt", t("deadline.resolve")), h("dd", { id: "case-due" }, fmtDateTime(c.expected_at))]
          : null,
        c.area_name ? [h("dt", t("case.ward")), h("dd", { id: "case-ward" }, c.area_name)] : null,
        c.address ? [h("dt", t("case.location")), h("dd", c.address)] : null,
        c.agency_name ? [h("dt", t("case.agency")), h("dd", c.agency_name)] : null,
      ),
      c.status_note ? h("p.note", { id: "status-note" }, c.status_note) : null,
      local?.duplicates?.length && c.state === "submitted"
        ? h("section.dups", h("p", t("report.duplicates")), h("ul", local.duplicates.map((d) => h("li", `${d.ref} · ${Math.round(d.distance_m)} m · ${t(`state.${d.state}`)}`))))
        : null,
      photos,
      own,
      mapEl,
      afterBox,
      h("h2", t("case.timeline")),
      tl,
      local?.token ? followUp(c, local) : null,
    ),
  );
  if (mapEl) {
    const { L, createMap, drawAreas, pinIcon } = await loadMap();
    currentMap = createMap(mapEl, { center: [c.lat, c.lon], zoom: 15 });
    drawAreas(currentMap, { fit: false });
    L.marker([c.lat, c.lon], { icon: pinIcon("pin-report"), keyboard: false }).addTo(currentMap);
  }
}

function followUp(c, local) {
  if (!c.can_rate && !c.can_reopen) return null;
  const box = h("section.stack", { id: "follow-up" });
  const stars = h("div.stars", { role: "radiogroup", "aria-label": t("case.rate") });
  for (let i = 1; i <= 5; i++) {
    const inp = h("input", { type: "radio", name: "score", id: `score-${i}`, value: String(i) });
    stars.append(inp, h("label", { for: `score-${i}`, title: String(i) }, "★"));
  }
  const comment = h("textarea", { id: "rate-comment", rows: 2 });
  const rateForm = h(
    "form.stack",
    { id: "rate-form" },
    h("h2", t("case.rate")),
    stars,
    h("label", { for: "rate-comment" }, t("case.comment")),
    comment,
    h("button.btn.btn-primary", { type: "submit" }, t("case.rateSend")),
  );
  rateForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const score = Number(rateForm.querySelector("input[name=score]:checked")?.value || 0);
    if (!score) return;
    try {
      await api(EP.trackRate(local.token), { method: "POST", json: { score, comment: comment.value.trim() || null } });
      announce(t("case.rated"), "ok");
      rateForm.replaceWith(h("p", t("case.rated")));
    } catch (err) {
      announce(errorText(err), "error");
    }
  });
  const reason = h("textarea", { id: "reopen-reason", rows: 2, required: true });
  const reopenForm = h(
    "form.stack",
    { id: "reopen-form" },
    h("h2", t("case.reopen")),
    h("label", { for: "reopen-reason" }, t("case.reopenReason")),
    reason,
    h("button.btn", { type: "submit" }, t("action.reopen")),
  );
  reopenForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!reason.value.trim()) return reason.focus();
    try {
      await api(EP.trackReopen(local.token), { method: "POST", json: { comment: reason.value.trim() } });
      announce(t("case.reopened"), "ok");
      route();
    } catch (err) {
      announce(errorText(err), "error");
    }
  });
  if (c.can_rate) box.append(rateForm);
  if (c.can_reopen) box.append(reopenForm);
  return box;
}

async function viewMap() {
  const { L, createMap, drawAreas } = await loadMap();
  const mapEl = h("div.map.map-full", { id: "public-map", role: "application", "aria-label": t("map.title") });
  main.append(h("h1.sr-only", t("map.title")), mapEl);
  const map = createMap(mapEl);
  currentMap = map;
  await drawAreas(map);
  try {
    const data = await api(EP.publicGeojson);
    L.geoJSON(data, {
      pointToLayer: (f, ll) =>
        L.circleMarker(ll, { className: "case-dot", radius: 8, weight: 2, color: "#fff", fillOpacity: 0.9, fillColor: ["resolved", "closed"].includes(f.properties?.state) ? "#2e7d32" : "#c62828" }),
      onEachFeature: (f, lyr) => {
        const p = f.properties || {};
        lyr.bindPopup(`<strong>${esc(p.ref || "")}</strong><br>${esc(t(`state.${p.state}`))}<br>${esc((getLang() === "en" ? p.category_name_en : p.category_name) || p.category || "")}<br>${esc(fmtDate(p.submitted_at))}`);
      },
    }).addTo(map);
  } catch {
    /* map of areas only */
  }
}

async function renderAlerts(box, mineOnly, limit) {
  clear(box);
  let list = [];
  try {
    const area = localStorage.getItem("cityops.area");
    const qs = new URLSearchParams({ state: "open" });
    if (mineOnly && area) qs.set("area", area);
    list = items(await api(`${EP.alerts}?${qs}`));
  } catch {
    return box.append(h("p.error", { dataset: { state: "load-failed" } }, alertsLoadFailed())); // not "no alerts"
  }
  if (!list.length) return box.append(h("p.muted", t("alerts.none")));
  const ul = h("ul.alerts");
  for (const a of list.slice(0, limit || 50)) ul.append(alertItem(a));
  box.append(ul);
}

export function alertMessage(a) {
  return (getLang() === "en" ? a.message_en : a.message_vi) || a.message_vi || a.message_en || a.title || "";
}

function alertItem(a) {
  return h(
    `li.alert.sev-${a.severity || "warning"}`,
    { id: `alert-${a.id}` },
    h("strong", t(`severity.${a.severity || "warning"}`)),
    h("span.muted", ` · ${fmtDateTime(a.opened_at)}`),
    alertAge(a.opened_at) ? h("span.age", ` · ${alertAge(a.opened_at)}`) : null,
    h("p", alertMessage(a)),
  );
}

async function viewAlerts(alertId) {
  const box = h("div", { id: "alerts-list" });
  main.append(h("h1", t("alerts.title")), box);
  await renderAlerts(box, false);
  const panel = await import("./alerts-sub.js").catch(() => null); // the phone-alerts panel loads with this page
  if (panel) panel.renderSubscription(main);
  const opened = alertId && document.getElementById(`alert-${alertId}`); // from a push notification
  if (opened) {
    opened.classList.add("focus");
    opened.scrollIntoView({ block: "center" });
  }
}

// ---- router ----
const routes = [
  [/^#?\/?$/, "home", viewHome],
  [/^#\/report$/, "report", viewReport],
  [/^#\/mine$/, "mine", viewMine],
  [/^#\/case\/([^/]+)$/, "mine", viewCase],
  [/^#\/map$/, "map", viewMap],
  [/^#\/services$/, "services", async () => (await import("./nearby.js")).viewServices(main)],
  [/^#\/nearby$/, "services", async () => (await import("./nearby.js")).viewNearby(main)],
  [/^#\/events$/, "services", async () => (await import("./events.js")).viewEvents(main)],
  [/^#\/dossier(?:\?(.*))?$/, "services", async (q) => (await import("./dossier.js")).viewDossier(main, q)],
  [/^#\/bulletins$/, "services", () => viewBulletins(main)],
  [/^#\/alerts(?:\/(\d+))?$/, "alerts", viewAlerts],
];

const route = serialRenderer(render);

async function render() {
  dropMap();
  clear(main);
  const hash = location.hash || "#/";
  const [, name, view, args] = routes.map(([re, n, v]) => [re.exec(hash), n, v]).map(([m, n, v]) => [m, n, v, m && m.slice(1)]).find(([m]) => m) || [null, "home", viewHome, []];
  for (const a of document.querySelectorAll(".tabbar a")) {
    if (a.dataset.route === name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  main.dataset.view = name;
  try {
    await view(...(args || []));
  } catch (err) {
    main.append(h("p.error", t("common.error", { msg: err.message || String(err) })));
  }
  applyI18n(main);
  refreshNet();
}

langToggle($("#lang"));
document.addEventListener("langchange", () => route());
window.addEventListener("hashchange", () => {
  route();
  main.focus({ preventScroll: true });
});
window.addEventListener("online", refreshNet);
window.addEventListener("offline", refreshNet);
document.addEventListener("outbox", (e) => {
  refreshNet();
  const last = e.detail.sent[e.detail.sent.length - 1];
  if (last) announce(t("report.sent", { ref: last.ref }), "ok");
  if (e.detail.sent.length && ["mine", "home"].includes(main.dataset.view)) route();
});
route();
startAutoFlush();
loadCategories(); // warm the offline copy of the categories on the first visit
if ("serviceWorker" in navigator && location.protocol !== "file:") {
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {});
}
