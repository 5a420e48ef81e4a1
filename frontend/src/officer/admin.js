// Admin pages of the officer workspace (role admin): categories (questions, SLA, urgency), the rollout of
// live areas (Tân An pilot → Bến Lức, Đức Hòa, Cần Đước, Cần Giuộc → province, per-area settings), and
// the users, agencies with jurisdictions, API keys and alert rules as the other APIs give them.
// Every form is checked here first, with messages in the reader's language; the server checks again and
// its error codes are shown the same way.
import { api, items } from "../common/api.js";
import { announce, clear, h } from "../common/dom.js";
import { errorText } from "../common/errors.js";
import { getLang } from "../common/i18n.js";

const TEXT = {
  vi: {
    title: "Quản trị",
    "tab.categories": "Lĩnh vực phản ánh",
    "tab.rollout": "Khu vực triển khai",
    "tab.users": "Người dùng",
    "tab.agencies": "Đơn vị",
    "tab.keys": "Khoá API",
    "tab.rules": "Quy tắc cảnh báo",
    code: "Mã",
    nameVi: "Tên (tiếng Việt)",
    nameEn: "Tên (tiếng Anh)",
    group: "Nhóm",
    sla: "Thời hạn xử lý (giờ làm việc)",
    urgent: "Khẩn cấp",
    active: "Đang dùng",
    sector: "Nguồn",
    own: "Do quản trị thêm",
    question: "Câu hỏi thêm (không bắt buộc)",
    qCode: "Mã câu hỏi",
    qLabel: "Câu hỏi (tiếng Việt)",
    qLabelEn: "Câu hỏi (tiếng Anh)",
    qType: "Kiểu trả lời",
    qRequired: "Bắt buộc trả lời",
    qValues: "Lựa chọn, mỗi dòng một mục: mã=tên tiếng Việt=tên tiếng Anh",
    "type.string": "Văn bản ngắn",
    "type.text": "Văn bản dài",
    "type.number": "Số",
    "type.date": "Ngày",
    "type.singlevaluelist": "Chọn một",
    "type.multivaluelist": "Chọn nhiều",
    add: "Thêm lĩnh vực",
    added: "Đã thêm lĩnh vực.",
    yes: "Có",
    no: "Không",
    search: "Tìm phường/xã",
    live: "Đã triển khai",
    stage: "Giai đoạn",
    "stage.pilot": "Thí điểm (Tân An)",
    "stage.wave1": "Đợt 1 (Bến Lức, Đức Hòa, Cần Đước, Cần Giuộc)",
    "stage.wave2": "Đợt 2",
    "stage.province": "Toàn tỉnh",
    acceptReports: "Nhận phản ánh",
    alerts: "Gửi cảnh báo",
    wholeProvince: "Triển khai toàn tỉnh",
    saved: "Đã lưu.",
    liveOnly: "Chỉ khu vực đã triển khai",
    username: "Tên đăng nhập",
    fullName: "Họ tên",
    role: "Vai trò",
    kind: "Loại",
    jurisdictions: "Phạm vi (khu vực × lĩnh vực)",
    name: "Tên",
    scopes: "Quyền",
    created: "Tạo lúc",
    revoked: "Thu hồi",
    enabled: "Bật",
    property: "Thông số",
    empty: "Không có dữ liệu.",
    "role.citizen": "Người dân",
    "role.officer": "Cán bộ xử lý",
    "role.supervisor": "Lãnh đạo/giám sát",
    "role.operator": "Vận hành IOC",
    "role.admin": "Quản trị",
    "err.code": "Mã chỉ gồm chữ thường không dấu, số và dấu _, bắt đầu bằng chữ (2–63 ký tự).",
    "err.name": "Hãy nhập tên (ít nhất 2 ký tự).",
    "err.sla": "Thời hạn phải là số giờ từ 1 đến 2000.",
    "err.qValues": "Câu hỏi dạng lựa chọn cần ít nhất một dòng mã=tên.",
    "err.qLabel": "Hãy nhập nội dung câu hỏi.",
    "err.category_exists": "Mã này đã có lĩnh vực khác dùng.",
    "err.invalid_code": "Mã chỉ gồm chữ thường không dấu, số và dấu _.",
    "err.question_values_required": "Câu hỏi dạng lựa chọn cần các lựa chọn.",
    "err.duplicate_question": "Hai câu hỏi trùng mã.",
    "err.category_declared": "Lĩnh vực này do phân hệ khai báo, không sửa ở đây.",
    "err.unknown_area": "Khu vực không tồn tại.",
  },
  en: {
    title: "Administration",
    "tab.categories": "Report categories",
    "tab.rollout": "Live areas",
    "tab.users": "Users",
    "tab.agencies": "Agencies",
    "tab.keys": "API keys",
    "tab.rules": "Alert rules",
    code: "Code",
    nameVi: "Name (Vietnamese)",
    nameEn: "Name (English)",
    group: "Group",
    sla: "Handling deadline (working hours)",
    urgent: "Urgent",
    active: "Active",
    sector: "Source",
    own: "Added by the administration",
    question: "Extra question (optional)",
    qCode: "Question code",
    qLabel: "Question (Vietnamese)",
    qLabelEn: "Question (English)",
    qType: "Answer type",
    qRequired: "Answer required",
    qValues: "Choices, one per line: code=Vietnamese name=English name",
    "type.string": "Short text",
    "type.text": "Long text",
    "type.number": "Number",
    "type.date": "Date",
    "type.singlevaluelist": "Pick one",
    "type.multivaluelist": "Pick several",
    add: "Add category",
    added: "Category added.",
    yes: "Yes",
    no: "No",
    search: "Find a ward/commune",
    live: "Live",
    stage: "Stage",
    "stage.pilot": "Pilot (Tân An)",
    "stage.wave1": "Wave 1 (Bến Lức, Đức Hòa, Cần Đước, Cần Giuộc)",
    "stage.wave2": "Wave 2",
    "stage.province": "Whole province",
    acceptReports: "Accept reports",
    alerts: "Send alerts",
    wholeProvince: "Go live in the whole province",
    saved: "Saved.",
    liveOnly: "Live areas only",
    username: "Username",
    fullName: "Full name",
    role: "Role",
    kind: "Kind",
    jurisdictions: "Jurisdiction (areas × categories)",
    name: "Name",
    scopes: "Scopes",
    created: "Created",
    revoked: "Revoked",
    enabled: "On",
    property: "Property",
    empty: "Nothing here.",
    "role.citizen": "Citizen",
    "role.officer": "Officer",
    "role.supervisor": "Supervisor",
    "role.operator": "IOC operator",
    "role.admin": "Administrator",
    "err.code": "A code is lower-case letters without accents, digits and _, starting with a letter (2–63).",
    "err.name": "Enter a name (at least 2 characters).",
    "err.sla": "The deadline is a number of hours from 1 to 2000.",
    "err.qValues": "A choice question needs at least one code=name line.",
    "err.qLabel": "Enter the question.",
    "err.category_exists": "Another category already uses this code.",
    "err.invalid_code": "A code is lower-case letters without accents, digits and _.",
    "err.question_values_required": "A choice question needs choices.",
    "err.duplicate_question": "Two questions have the same code.",
    "err.category_declared": "A sector declares this category; it is not changed here.",
    "err.unknown_area": "No such area.",
  },
};

const tt = (key) => TEXT[getLang() === "en" ? "en" : "vi"][key] ?? key;
const serverError = (err) => (err && err.code && TEXT.vi[`err.${err.code}`] ? tt(`err.${err.code}`) : errorText(err));
const ROLES = ["citizen", "officer", "supervisor", "operator", "admin"];
const TABS = ["categories", "rollout", "users", "agencies", "keys", "rules"];
const CODE = /^[a-z][a-z0-9_]{1,62}$/;

function field(id, label, input, help) {
  input.id = id;
  return h("div.field", h("label", { for: id }, label), input, h("p.error", { id: `${id}-error`, role: "alert" }), help ? h("p.help", help) : null);
}

function table(headers, rows) {
  if (!rows.length) return h("p.muted", tt("empty"));
  return h("div.table-wrap", h("table.admin", h("thead", h("tr", headers.map((x) => h("th", x)))), h("tbody", rows.map((r) => h("tr", r.map((c) => h("td", c)))))));
}

// ---- categories ----
async function viewCategories(box) {
  const list = h("div", { id: "admin-categories" });
  const fill = async () => {
    const cats = await api("/api/v1/admin/categories");
    clear(list);
    list.append(
      table(
        [tt("code"), tt("name"), tt("group"), tt("sla"), tt("urgent"), tt("active"), tt("sector")],
        cats.map((c) => [c.code, getLang() === "en" ? c.name_en || c.name_vi : c.name_vi, c.group, String(c.sla_hours).replace(".", ","), c.urgent ? tt("yes") : tt("no"), c.active ? tt("yes") : tt("no"), c.editable ? tt("own") : c.sector]),
      ),
    );
  };
  const inp = (attrs = {}) => h("input", attrs);
  const code = inp({ maxlength: 63, autocomplete: "off" });
  const nameVi = inp({ maxlength: 200 });
  const nameEn = inp({ maxlength: 200 });
  const group = inp({ maxlength: 100 });
  const sla = inp({ type: "number", min: 1, max: 2000, step: "any", value: "40" });
  const urgent = h("input", { type: "checkbox", id: "cat-urgent" });
  const qCode = inp({ maxlength: 63 });
  const qLabel = inp({ maxlength: 200 });
  const qLabelEn = inp({ maxlength: 200 });
  const qType = h("select", ["string", "text", "number", "date", "singlevaluelist", "multivaluelist"].map((v) => h("option", { value: v }, tt(`type.${v}`))));
  const qRequired = h("input", { type: "checkbox", id: "q-required" });
  const qValues = h("textarea", { rows: 3 });
  const formError = h("p.error", { id: "cat-form-error", role: "alert" });
  const form = h(
    "form.stack.admin-form",
    { id: "category-form", novalidate: true },
    h("h2", tt("add")),
    field("cat-code", tt("code"), code),
    field("cat-name-vi", tt("nameVi"), nameVi),
    field("cat-name-en", tt("nameEn"), nameEn),
    field("cat-group", tt("group"), group),
    field("cat-sla", tt("sla"), sla),
    h("p", h("label", urgent, " ", tt("urgent"))),
    h(
      "fieldset",
      h("legend", tt("question")),
      field("q-code", tt("qCode"), qCode),
      field("q-label", tt("qLabel"), qLabel),
      field("q-label-en", tt("qLabelEn"), qLabelEn),
      field("q-type", tt("qType"), qType),
      h("p", h("label", qRequired, " ", tt("qRequired"))),
      field("q-values", tt("qValues"), qValues),
    ),
    formError,
    h("button.btn.btn-primary", { type: "submit", id: "cat-submit" }, tt("add")),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    for (const el of form.querySelectorAll("p.error")) el.textContent = "";
    const errors = {};
    if (!CODE.test(code.value.trim())) errors["cat-code"] = tt("err.code");
    if (nameVi.value.trim().length < 2) errors["cat-name-vi"] = tt("err.name");
    if (nameEn.value.trim().length < 2) errors["cat-name-en"] = tt("err.name");
    const hours = Number(sla.value.replace(",", "."));
    if (!(hours >= 1 && hours <= 2000)) errors["cat-sla"] = tt("err.sla");
    const questions = [];
    if (qCode.value.trim()) {
      if (!CODE.test(qCode.value.trim())) errors["q-code"] = tt("err.code");
      if (!qLabel.value.trim()) errors["q-label"] = tt("err.qLabel");
      const lines = qValues.value.split("\n").map((l) => l.split("=").map((x) => x.trim())).filter((p) => p[0] && p[1]);
      const isList = qType.value.endsWith("valuelist");
      if (isList && !lines.length) errors["q-values"] = tt("err.qValues");
      questions.push({
        code: qCode.value.trim(),
        label: qLabel.value.trim(),
        label_en: qLabelEn.value.trim(),
        datatype: qType.value,
        required: qRequired.checked,
        values: isList ? lines.map((p) => [p[0], p[1]]) : [],
        values_en: isList ? lines.map((p) => [p[0], p[2] || p[1]]) : [],
      });
    }
    for (const [id, msg] of Object.entries(errors)) document.getElementById(`${id}-error`).textContent = msg;
    if (Object.keys(errors).length) return document.getElementById(Object.keys(errors)[0]).focus();
    try {
      await api("/api/v1/admin/categories", {
        method: "POST",
        json: { code: code.value.trim(), name_vi: nameVi.value.trim(), name_en: nameEn.value.trim(), group: group.value.trim(), sla_hours: hours, urgent: urgent.checked, questions },
      });
      announce(tt("added"), "ok");
      form.reset();
      await fill();
    } catch (err) {
      formError.textContent = serverError(err);
    }
  });
  box.append(list, form);
  await fill();
}

// ---- rollout ----
async function viewRollout(box) {
  const search = h("input", { type: "search", id: "rollout-search", placeholder: tt("search"), "aria-label": tt("search") });
  const liveOnly = h("input", { type: "checkbox", id: "rollout-live-only" });
  const stage = h("select", { id: "rollout-stage" }, ["pilot", "wave1", "wave2", "province"].map((v) => h("option", { value: v }, tt(`stage.${v}`))));
  const accept = h("input", { type: "checkbox", id: "rollout-accept", checked: true });
  const alerts = h("input", { type: "checkbox", id: "rollout-alerts", checked: true });
  const status = h("p.muted", { id: "rollout-status", role: "status" });
  const list = h("div", { id: "rollout-list" });
  const settings = () => ({ accept_reports: accept.checked, alerts: alerts.checked, note: "" });
  const put = async (body) => {
    try {
      await api("/api/v1/admin/rollout", { method: "PUT", json: { stage: stage.value, settings: settings(), ...body } });
      status.textContent = tt("saved");
      await fill();
    } catch (err) {
      status.textContent = serverError(err);
    }
  };
  const fill = async () => {
    const qs = new URLSearchParams();
    if (search.value.trim()) qs.set("q", search.value.trim());
    if (liveOnly.checked) qs.set("live_only", "true");
    const rows = await api(`/api/v1/admin/rollout?${qs}`);
    clear(list);
    list.append(
      table(
        [tt("name"), tt("code"), tt("live"), tt("stage"), tt("acceptReports"), tt("alerts")],
        rows.map((a) => {
          const box2 = h("input", { type: "checkbox", checked: a.live, "aria-label": `${tt("live")}: ${a.name}`, dataset: { areaId: String(a.area_id) } });
          box2.addEventListener("change", () => put({ area_ids: [a.area_id], live: box2.checked }));
          return [a.name, a.code, box2, a.stage ? tt(`stage.${a.stage}`) : "—", a.settings ? (a.settings.accept_reports ? tt("yes") : tt("no")) : "—", a.settings ? (a.settings.alerts ? tt("yes") : tt("no")) : "—"];
        }),
      ),
    );
  };
  let timer = 0;
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(fill, 250);
  });
  liveOnly.addEventListener("change", fill);
  const province = h("button.btn", { type: "button", id: "rollout-province" }, tt("wholeProvince"));
  province.addEventListener("click", async () => {
    const found = items(await api("/api/v1/areas?level=province&limit=5"));
    if (found.length) await put({ area_ids: [found[0].id], live: true, stage: "province", include_children: true });
  });
  box.append(
    h("div.row", search, h("label", liveOnly, " ", tt("liveOnly"))),
    h("div.row", h("label", { for: "rollout-stage" }, tt("stage")), stage, h("label", accept, " ", tt("acceptReports")), h("label", alerts, " ", tt("alerts")), province),
    status,
    list,
  );
  await fill();
}

// ---- read-only lists from the other APIs ----
/** A control that PATCHes one field and says so in ``status`` (the server audits every change). */
function patcher(status, url, key, read) {
  return async (e) => {
    try {
      await api(url, { method: "PATCH", json: { [key]: read(e.target) } });
      status.textContent = tt("saved");
    } catch (err) {
      status.textContent = serverError(err);
    }
  };
}

async function viewUsers(box) {
  const users = items(await api("/api/v1/users?limit=100"));
  const status = h("p.muted", { id: "users-status", role: "status" });
  const rows = users.map((u) => {
    const role = h("select", { "aria-label": `${tt("role")}: ${u.username}`, dataset: { userId: String(u.id) } }, ROLES.map((r) => h("option", { value: r, selected: r === u.role }, tt(`role.${r}`))));
    role.addEventListener("change", patcher(status, `/api/v1/users/${u.id}`, "role", (el) => el.value));
    const active = h("input", { type: "checkbox", checked: u.is_active, "aria-label": `${tt("active")}: ${u.username}` });
    active.addEventListener("change", patcher(status, `/api/v1/users/${u.id}`, "is_active", (el) => el.checked));
    return [u.username, u.full_name || "", role, active];
  });
  box.append(status, table([tt("username"), tt("fullName"), tt("role"), tt("active")], rows));
}

async function viewAgencies(box) {
  const agencies = items(await api("/api/v1/agencies"));
  box.append(table([tt("code"), tt("name"), tt("kind")], agencies.map((a) => [a.code || "", a.name, a.kind || ""])));
}

async function viewKeys(box) {
  const keys = items(await api("/api/v1/keys"));
  box.append(table([tt("name"), tt("scopes"), tt("created"), tt("revoked")], keys.map((k) => [k.name || k.label || String(k.id), (k.scopes || []).join(", "), (k.created_at || "").slice(0, 10), k.revoked_at ? tt("yes") : tt("no")])));
}

async function viewRules(box) {
  const rules = items(await api("/api/v1/alert-rules"));
  const status = h("p.muted", { id: "rules-status", role: "status" });
  const rows = rules.map((r) => {
    const on = h("input", { type: "checkbox", checked: r.enabled, "aria-label": `${tt("enabled")}: ${r.name_vi}`, dataset: { ruleId: String(r.id) } });
    on.addEventListener("change", patcher(status, `/api/v1/alert-rules/${r.id}`, "enabled", (el) => el.checked));
    return [getLang() === "en" ? r.name_en || r.name_vi : r.name_vi, r.property_code || "", on];
  });
  box.append(status, table([tt("name"), tt("property"), tt("enabled")], rows));
}

const VIEWS = { categories: viewCategories, rollout: viewRollout, users: viewUsers, agencies: viewAgencies, keys: viewKeys, rules: viewRules };

/** The admin page for ``#/admin`` or ``#/admin/<tab>``, into ``main``. */
export async function viewAdmin(main, tab) {
  const current = TABS.includes(tab) ? tab : "categories";
  main.append(
    h("h1", tt("title")),
    h(
      "nav.tabs.row",
      { "aria-label": tt("title") },
      TABS.map((name) => h("a", { href: `#/admin/${name}`, id: `tab-${name}`, "aria-current": name === current ? "page" : null }, tt(`tab.${name}`))),
    ),
  );
  const box = h("section", { id: `admin-${current}-view` });
  main.append(box);
  try {
    await VIEWS[current](box);
  } catch (err) {
    box.append(h("p.error", serverError(err)));
  }
}
