// Officer workspace: sign in (cookie session + CSRF header), inbox with filters and deadline colours,
// case detail (photos, map, timeline), transitions, transfer, extension, templates, internal notes.
import "./officer.css";
import { api, ApiError, items, setCsrf } from "../common/api.js";
import { $, announce, clear, h } from "../common/dom.js";
import { EP } from "../common/endpoints.js";
import { serialRenderer } from "../common/router.js";
import { fmtDateTime, fmtNumber } from "../common/format.js";
import { errorText } from "../common/errors.js";
import { answerRows } from "../common/categories.js";
import { applyI18n, getLang, langToggle, t } from "../common/i18n.js";
import { L, createMap, drawAreas, pinIcon } from "../common/map.js";

const main = $("#main");
let me = null;
let categories = [];
let agencies = [];
let currentMap = null;
const filters = { state: "open", category: "", overdue: false, q: "" };

const OPEN = ["submitted", "acknowledged", "assigned", "in_progress", "reopened"];
// The order actions are offered in: progress first, what ends or hands the case away last; the first is the
// default, so the default is never a destructive action.
const ORDER = ["resolve", "start", "acknowledge", "assign", "close", "request_extension", "decide_extension", "add_support", "reopen", "transfer", "return", "merge", "reject"];
const DESTRUCTIVE = new Set(["transfer", "return", "merge", "reject"]);
const REJECT_REASONS = ["out_of_scope", "duplicate", "insufficient_information"];
const NEEDS_COMMENT = new Set(["close", "reject", "reopen", "transfer", "return", "request_extension"]);

function catName(code) {
  const c = categories.find((x) => x.code === code);
  if (!c) return code || "";
  return (getLang() === "en" ? c.name_en : c.name_vi) || c.code;
}

function stateBadge(state) {
  return h(`span.badge.state-${state}`, t(`state.${state}`));
}

/** The deadline that matters now, named: acknowledgement while unacknowledged, else resolution (as the server's
 * sla.current_due, so the inbox and the case page show the same date). */
export function currentDeadline(c) {
  if (!OPEN.includes(c.state)) return null;
  const awaitingAck = c.state === "submitted" || c.state === "reopened";
  if (c.due_at !== undefined) return c.due_at ? { at: c.due_at, kind: awaitingAck ? "ack" : "resolve" } : null;
  if (awaitingAck && c.ack_due_at && (!c.resolve_due_at || c.ack_due_at <= c.resolve_due_at)) return { at: c.ack_due_at, kind: "ack" };
  return c.resolve_due_at ? { at: c.resolve_due_at, kind: "resolve" } : null;
}

function deadlineEl(c) {
  const d = currentDeadline(c);
  const dl = deadlineClass(c);
  if (!d) return h(`span.dl.${dl}`, "–");
  return h(`span.dl.${dl}`, { dataset: { kind: d.kind } }, h("span.dl-name", `${t(`deadline.${d.kind}`)}: `), fmtDateTime(d.at), DL_LABEL[dl] ? h("span.sr-only", ` (${t(DL_LABEL[dl])})`) : null);
}

/** Deadline colour: overdue (red), within the last 20 % or 8 h (amber), otherwise green. */
export function deadlineClass(c, now = Date.now()) {
  if (!OPEN.includes(c.state)) return "dl-none";
  const due = currentDeadline(c)?.at;
  if (c.overdue || (due && new Date(due).getTime() < now)) return "dl-overdue";
  if (!due) return "dl-none";
  const start = new Date(c.submitted_at).getTime();
  const end = new Date(due).getTime();
  const left = end - now;
  if (left < Math.max(0.2 * (end - start), 0) || left < 8 * 3600e3) return "dl-soon";
  return "dl-ok";
}

const DL_LABEL = { "dl-overdue": "deadline.overdue", "dl-soon": "deadline.soon", "dl-ok": "deadline.ok" };

async function whoAmI() {
  try {
    me = await api(EP.me);
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) me = null;
    else throw err;
  }
  $("#who").textContent = me ? me.full_name || me.username : "";
  if (me && me.role === "admin" && !$("#admin-link")) $("#who").after(h("a.btn-link", { id: "admin-link", href: "#/admin" }));
  if (!(me && me.role === "admin")) $("#admin-link")?.remove();
  if (me && !$("#gates-link")) $("#who").after(h("a.btn-link", { id: "gates-link", href: "#/gates" }, getLang() === "en" ? "Sluice gates" : "Cống thủy lợi"));
  if (!me) $("#gates-link")?.remove();
  $("#logout").hidden = !me;
  return me;
}

function viewLogin() {
  const user = h("input", { id: "username", name: "username", autocomplete: "username", required: true });
  const pass = h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const err = h("p.error", { id: "login-error", role: "alert" });
  const form = h(
    "form.login.stack",
    { id: "login-form" },
    h("h1", t("auth.title")),
    h("div.field", h("label", { for: "username" }, t("auth.username")), user),
    h("div.field", h("label", { for: "password" }, t("auth.password")), pass),
    err,
    h("button.btn.btn-primary.btn-big", { type: "submit" }, t("auth.login")),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.textContent = "";
    try {
      const res = await api(EP.login, { method: "POST", json: { username: user.value.trim(), password: pass.value, session: true } });
      setCsrf(res.csrf_token);
      await whoAmI();
      location.hash = "#/";
      route();
    } catch (e2) {
      err.textContent = e2.status === 401 || e2.status === 400 || e2.status === 422 ? t("auth.failed") : errorText(e2);
      pass.value = "";
      pass.focus();
    }
  });
  main.append(form);
  user.focus();
}

async function loadRefs() {
  if (!categories.length) categories = items(await api(EP.categories).catch(() => []));
  if (!agencies.length) agencies = items(await api(EP.agencies).catch(() => []));
}

async function viewInbox() {
  await loadRefs();
  const stateSel = h(
    "select",
    { id: "f-state" },
    h("option", { value: "open" }, t("inbox.open")),
    h("option", { value: "" }, t("inbox.all")),
    ["submitted", "acknowledged", "assigned", "in_progress", "reopened", "resolved", "closed", "rejected"].map((s) => h("option", { value: s }, t(`state.${s}`))),
  );
  stateSel.value = filters.state;
  const catSel = h("select", { id: "f-category" }, h("option", { value: "" }, t("inbox.all")), categories.map((c) => h("option", { value: c.code }, catName(c.code))));
  catSel.value = filters.category;
  const overdue = h("input", { id: "f-overdue", type: "checkbox", checked: filters.overdue });
  const q = h("input", { id: "f-q", type: "search", value: filters.q });
  const table = h("table.inbox", { id: "inbox" });
  const form = h(
    "form.filters",
    { id: "filters", role: "search" },
    h("div.field", h("label", { for: "f-state" }, t("inbox.state")), stateSel),
    h("div.field", h("label", { for: "f-category" }, t("inbox.category")), catSel),
    h("div.check", overdue, h("label", { for: "f-overdue" }, t("inbox.overdue"))),
    h("div.field.grow", h("label", { for: "f-q" }, t("inbox.search")), q),
  );
  const reload = () => {
    Object.assign(filters, { state: stateSel.value, category: catSel.value, overdue: overdue.checked, q: q.value.trim() });
    fillInbox(table);
  };
  form.addEventListener("change", reload);
  form.addEventListener("submit", (e) => (e.preventDefault(), reload()));
  main.append(h("h1", t("inbox.title")), form, h("div.table-wrap", table));
  await fillInbox(table);
}

async function fillInbox(table) {
  const qs = new URLSearchParams({ limit: "100" });
  if (filters.state === "open") for (const s of OPEN) qs.append("state", s);
  else if (filters.state) qs.set("state", filters.state);
  if (filters.category) qs.set("category", filters.category);
  if (filters.overdue) qs.set("overdue", "true");
  if (filters.q) qs.set("q", filters.q);
  let rows = [];
  try {
    rows = items(await api(`${EP.inbox}?${qs}`));
  } catch (err) {
    announce(errorText(err), "error");
  }
  clear(table);
  table.append(
    h("thead", h("tr", [t("inbox.ref"), t("inbox.category"), t("inbox.state"), t("inbox.submitted"), t("inbox.due")].map((x) => h("th", { scope: "col" }, x)))),
  );
  const body = h("tbody");
  for (const c of rows) {
    const dl = deadlineClass(c);
    body.append(
      h(
        `tr.${dl}`,
        { dataset: { ref: c.ref } },
        h("td", h("a", { href: `#/case/${encodeURIComponent(c.ref)}` }, c.ref), c.urgent ? h("span.badge.urgent", "!") : null),
        h("td", catName(c.category), h("div.muted.small", (c.description || "").slice(0, 80))),
        h("td", stateBadge(c.state)),
        h("td", fmtDateTime(c.submitted_at)),
        h("td", deadlineEl(c)),
      ),
    );
  }
  if (!rows.length) body.append(h("tr", h("td", { colspan: 5 }, t("inbox.empty"))));
  table.append(body);
}

/** The actions the server offers this user on the case, in the order above (unknown ones last). */
function allowedActions(c) {
  const rank = (a) => (ORDER.includes(a) ? ORDER.indexOf(a) : ORDER.length);
  return [...(c.allowed_actions || [])].sort((a, b) => rank(a) - rank(b));
}

async function uploadPhoto(file) {
  const form = new FormData();
  form.append("file", file, file.name || "after.jpg");
  const res = await api(EP.media, { method: "POST", form });
  return res.media_id;
}

async function viewCase(ref) {
  await loadRefs();
  ref = decodeURIComponent(ref);
  let c;
  try {
    c = await api(EP.case(ref));
  } catch (err) {
    main.append(h("p.error", err.status === 404 ? t("case.notFound") : errorText(err)));
    return;
  }
  const timeline = c.timeline || [];
  const tl = h("ol.timeline", { id: "timeline" });
  for (const ev of timeline) {
    const internal = ev.public === false || ev.kind === "note";
    tl.append(
      h(
        `li${internal ? ".internal" : ""}`,
        h("time", fmtDateTime(ev.at)),
        h("strong", ev.to_state && ev.kind === "transition" ? `${t(`action.${ev.action}`)} → ${t(`state.${ev.to_state}`)}` : t(`action.${ev.action || ev.kind}`)),
        ev.actor_role ? h("span.muted", ` · ${t(`role.${ev.actor_role}`)}`) : null,
        ev.comment || ev.text ? h("p", ev.comment || ev.text) : null,
      ),
    );
  }
  const photos = h("div.gallery", { id: "case-photos" });
  for (const m of c.all_media || []) {
    const published = ["approved", "redacted"].includes(m.review_state);
    const src = published ? EP.mediaThumb(m.media_id) : EP.mediaStaffThumb(m.media_id);
    const alt = m.role === "after" ? t("case.after") : t("case.photos");
    const review = h("button.btn-small", { type: "button" }, published ? t("officer.hide") : t("officer.publish"));
    review.addEventListener("click", async () => {
      try {
        await api(EP.caseMediaReview(c.ref, m.media_id), { method: "POST", json: { state: published ? "hidden" : "approved" } });
        route();
      } catch (err) {
        announce(errorText(err), "error");
      }
    });
    const img = h("img", { src, alt, loading: "lazy" });
    img.addEventListener("error", () => img.replaceWith(h("span.noimg", t(`review.${m.review_state}`))), { once: true });
    photos.append(h("figure", { dataset: { media: String(m.media_id), review: m.review_state } }, img, h("figcaption.muted", `${m.role === "after" ? t("case.after") + " · " : ""}${t(`review.${m.review_state}`)}`), review));
  }
  const mapEl = h("div.map.case-map", { id: "case-map" });
  const reporter = c.reporters
    ? h("section", h("h2", t("officer.reporter")), c.reporters.map((r) => h("p", [r.name, r.phone, r.email].filter(Boolean).join(" · ") || "–")))
    : null;
  const answers = answerRows(categories.find((x) => x.code === c.category), c.answers, fmtNumber);
  const assignee = (c.assignees || []).find((u) => u.id === c.assignee_id);
  main.append(
    h("p", h("a", { href: "#/" }, t("officer.back"))),
    h(
      "div.case-grid",
      h(
        "article.case-main",
        h("div.card-top", h("h1", c.ref), stateBadge(c.state), deadlineEl(c)),
        h("p", h("strong", catName(c.category)), c.area_name ? ` · ${c.area_name}` : "", c.agency_name ? ` · ${c.agency_name}` : ""),
        h("p", c.description || ""),
        c.assignee_id ? h("p.muted", { id: "assignee-now" }, t("officer.assigneeNow", { name: assignee ? assignee.name : c.assignee_id === me.id ? me.full_name || me.username : `#${c.assignee_id}` })) : null,
        answers.length ? h("section", h("h2", t("officer.answers")), h("dl.meta", { id: "answers" }, answers.map(([k, v]) => [h("dt", k), h("dd", v)]))) : null,
        reporter,
        h("h2", t("case.photos")),
        photos,
        mapEl,
        h("h2", t("case.timeline")),
        tl,
      ),
      h("aside.case-side", actionPanel(c), notePanel(c)),
    ),
  );
  if (c.lat != null && c.lon != null) {
    currentMap = createMap(mapEl, { center: [c.lat, c.lon], zoom: 15 });
    drawAreas(currentMap, { fit: false });
    L.marker([c.lat, c.lon], { icon: pinIcon("pin-report") }).addTo(currentMap);
  } else mapEl.remove();
}

function actionPanel(c) {
  const pending = (c.extensions || []).filter((x) => x.status === "pending");
  const actions = allowedActions(c).filter((a) => a !== "decide_extension" || pending.length > 0);
  if (!actions.length) return h("section");
  const actionSel = h(
    "select",
    { id: "action" },
    actions.map((a) => h("option", { value: a, dataset: { destructive: DESTRUCTIVE.has(a) ? "true" : "false" } }, t(`action.${a}`))),
  );
  actionSel.value = actions[0]; // progress first: never a destructive default
  const comment = h("textarea", { id: "comment", rows: 4 });
  const tplSel = h("select", { id: "template" }, h("option", { value: "" }, t("officer.noTemplate")));
  const agencySel = h("select", { id: "agency" }, agencies.filter((a) => a.id !== c.agency_id).map((a) => h("option", { value: String(a.id) }, a.name)));
  const hours = h("input", { id: "hours", type: "number", min: "1", max: "720", value: "16" });
  const people = c.assignees || [];
  const assignee = h(
    "select",
    { id: "assignee" },
    people.map((u) => h("option", { value: String(u.id) }, `${u.name}${u.id === me.id ? ` (${t("officer.me")})` : ""} – ${t(`role.${u.role}`)}`)),
  );
  const preferred = people.find((u) => u.role === "officer" && u.id !== c.assignee_id) || people[0];
  if (preferred) assignee.value = String(preferred.id);
  const fAssignee = h("div.field", h("label", { for: "assignee" }, t("officer.assignee")), assignee);
  const reasonSel = h("select", { id: "reason" }, REJECT_REASONS.map((r) => h("option", { value: r }, t(`reason.${r}`))));
  const fReason = h("div.field", h("label", { for: "reason" }, t("officer.reason")), reasonSel);
  const extSel = h("select", { id: "extension" }, pending.map((x) => h("option", { value: String(x.id) }, `${fmtNumber(x.hours, 1)} h – ${x.reason}`)));
  const approve = h("select", { id: "approve" }, h("option", { value: "true" }, t("officer.approve")), h("option", { value: "false" }, t("officer.deny")));
  const fDecide = h("div.field", h("label", { for: "extension" }, t("action.request_extension")), extSel, h("label", { for: "approve" }, t("officer.decision")), approve);
  const photo = h("input", { id: "after-photo", type: "file", accept: "image/*", capture: "environment" });
  const publish = h("input", { id: "after-publish", type: "checkbox", checked: true });
  const fAgency = h("div.field", h("label", { for: "agency" }, t("officer.agency")), agencySel);
  const fHours = h("div.field", h("label", { for: "hours" }, t("officer.hours")), hours);
  const fPhoto = h("div.field", h("label", { for: "after-photo" }, t("officer.afterPhoto")), photo, h("div.check", publish, h("label", { for: "after-publish" }, t("officer.publishAfter"))));
  const submitBtn = h("button.btn.btn-primary", { type: "submit", id: "do-action" }, t("officer.do"));
  let templates = [];
  const sync = () => {
    const a = actionSel.value;
    fAgency.hidden = !["transfer", "add_support"].includes(a);
    fHours.hidden = a !== "request_extension";
    fAssignee.hidden = a !== "assign";
    fReason.hidden = a !== "reject";
    fDecide.hidden = a !== "decide_extension";
    fPhoto.hidden = a !== "resolve";
    comment.required = NEEDS_COMMENT.has(a);
    submitBtn.textContent = t(`action.${a}`);
    submitBtn.className = DESTRUCTIVE.has(a) ? "btn btn-danger" : "btn btn-primary";
    clear(tplSel).append(h("option", { value: "" }, t("officer.noTemplate")));
    for (const tp of templates.filter((x) => !x.action || x.action === a)) tplSel.append(h("option", { value: String(tp.id) }, tp.title));
  };
  api(EP.templates)
    .then((d) => {
      templates = items(d);
      sync();
    })
    .catch(() => {});
  tplSel.addEventListener("change", () => {
    const tp = templates.find((x) => String(x.id) === tplSel.value);
    if (tp) comment.value = tp.body;
  });
  actionSel.addEventListener("change", sync);
  const formError = h("p.error", { id: "action-error", role: "alert" });
  const form = h(
    "form.stack.panel",
    { id: "action-form" },
    h("h2", t("officer.actions")),
    h("div.field", h("label", { for: "action" }, t("officer.action")), actionSel),
    fReason,
    h("div.field", h("label", { for: "template" }, t("officer.template")), tplSel),
    h("div.field", h("label", { for: "comment" }, t("officer.commentLabel")), comment),
    fAgency,
    fAssignee,
    fDecide,
    fHours,
    fPhoto,
    formError,
    submitBtn,
  );
  sync();
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    formError.textContent = "";
    const action = actionSel.value;
    if (comment.required && !comment.value.trim()) {
      formError.textContent = t("officer.needComment");
      return comment.focus();
    }
    if (action === "resolve" && !photo.files[0] && !comment.value.trim()) {
      formError.textContent = t("officer.needPhotoOrComment");
      return photo.focus();
    }
    const body = { action };
    if (comment.value.trim()) body.comment = comment.value.trim();
    if (!fAgency.hidden && agencySel.value) body.agency_id = Number(agencySel.value);
    if (!fHours.hidden) body.hours = Number(hours.value);
    if (!fAssignee.hidden) body.assignee_id = Number(assignee.value);
    if (!fReason.hidden) body.reason = reasonSel.value;
    if (!fDecide.hidden) Object.assign(body, { extension_id: Number(extSel.value), approve: approve.value === "true" });
    submitBtn.disabled = true;
    try {
      let after = null;
      if (!fPhoto.hidden && photo.files[0]) {
        after = await uploadPhoto(photo.files[0]);
        body.after_media_ids = [after];
      }
      await api(EP.caseAction(c.ref), { method: "POST", json: body });
      // the officer's own proof of fix is published with the resolution
      if (after != null && publish.checked) await api(EP.caseMediaReview(c.ref, after), { method: "POST", json: { state: "approved" } });
      if (action === "transfer" || action === "return") {
        // the case has left the agency: its page is no longer ours, so the job ends on the inbox
        const to = agencies.find((a) => a.id === body.agency_id);
        announce(action === "transfer" ? t("officer.transferred", { ref: c.ref, agency: to ? to.name : "" }) : t("officer.returned", { ref: c.ref }), "ok");
        location.hash = "#/";
        return;
      }
      announce(action === "resolve" ? t("officer.resolved", { ref: c.ref }) : t("officer.done"), "ok");
      route();
    } catch (err) {
      formError.textContent = errorText(err);
      announce(errorText(err), "error");
      submitBtn.disabled = false;
    }
  });
  return form;
}

function notePanel(c) {
  const text = h("textarea", { id: "note", rows: 3, required: true });
  const form = h("form.stack.panel", { id: "note-form" }, h("h2", t("action.note")), h("label.sr-only", { for: "note" }, t("action.note")), text, h("button.btn", { type: "submit" }, t("officer.noteSave")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!text.value.trim()) return text.focus();
    try {
      await api(EP.caseNotes(c.ref), { method: "POST", json: { text: text.value.trim() } });
      announce(t("officer.done"), "ok");
      route();
    } catch (err) {
      announce(errorText(err), "error");
    }
  });
  return form;
}

const route = serialRenderer(render);

async function render() {
  if (currentMap) {
    currentMap.remove();
    currentMap = null;
  }
  clear(main);
  try {
    if (me === null) await whoAmI();
    if (!me) {
      main.dataset.view = "login";
      viewLogin();
    } else {
      const m = /^#\/case\/([^/]+)$/.exec(location.hash);
      const admin = me.role === "admin" && /^#\/admin(?:\/(\w+))?$/.exec(location.hash);
      if ($("#admin-link")) $("#admin-link").textContent = getLang() === "en" ? "Administration" : "Quản trị";
      const gates = /^#\/gates$/.test(location.hash);
      main.dataset.view = admin ? "admin" : gates ? "gates" : m ? "case" : "inbox";
      if (admin) await (await import("./admin.js")).viewAdmin(main, admin[1]); // admin pages load only for admins
      else if (gates) await (await import("./gates.js")).viewGates(main); // sluice gates (#17)
      else await (m ? viewCase(m[1]) : viewInbox());
    }
  } catch (err) {
    main.append(h("p.error", err.status ? errorText(err) : t("common.error", { msg: err.message || String(err) })));
  }
  applyI18n(main);
}

langToggle($("#lang"));
$("#logout").addEventListener("click", async () => {
  await api(EP.logout, { method: "POST" }).catch(() => {});
  me = null;
  setCsrf(null);
  location.hash = "#/";
  route();
});
document.addEventListener("langchange", () => route());
window.addEventListener("hashchange", route);
// Live: refresh the inbox when cases change (no reload).
if ("EventSource" in window) {
  const es = new EventSource(EP.live);
  let pending = null;
  const refresh = () => {
    if (main.dataset.view !== "inbox") return;
    clearTimeout(pending);
    pending = setTimeout(() => fillInbox($("#inbox")), 300);
  };
  for (const s of ["cases.created", "cases.transitioned", "cases.updated", "cases.overdue", "cases.escalated"]) es.addEventListener(s, refresh);
}
route();
