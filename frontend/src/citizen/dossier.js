// Dossier status lookup (tra cứu hồ sơ): the receipt's code plus the last 4 digits of the phone or ID number
// given when filing. A wrong pair and an unknown code read the same; nothing personal is shown or stored here.
import { api } from "../common/api.js";
import { clear, h } from "../common/dom.js";
import { fmtDate, fmtDateTime } from "../common/format.js";
import { errorText } from "../common/errors.js";
import { getLang, t } from "../common/i18n.js";

const URL = "/api/v1/public-services/dossiers/lookup";

function resultCard(d) {
  const en = getLang() === "en";
  return h(
    "section.card",
    { id: "dossier-result", "aria-labelledby": "dossier-result-title" },
    h("h2", { id: "dossier-result-title" }, d.procedure_name),
    h("p", h("span.badge", { dataset: { status: d.status } }, en ? d.status_en : d.status_vi), d.overdue ? [" ", h("span.badge.overdue", t("dossier.overdue"))] : null),
    h("dl",
      h("dt", t("dossier.code")), h("dd", d.code),
      h("dt", t("dossier.agency")), h("dd", d.agency_name),
      h("dt", t("dossier.received")), h("dd", fmtDateTime(d.received_at)),
      d.due_at ? [h("dt", t("dossier.due")), h("dd", fmtDate(d.due_at))] : null,
      d.returned_at ? [h("dt", t("dossier.returned")), h("dd", fmtDateTime(d.returned_at))] : null),
    d.steps.length
      ? [h("h3", t("dossier.steps")), h("ol.timeline", d.steps.map((s) => h("li", h("strong", s.name), h("span.muted", ` · ${s.agency_name}`), s.finished_at ? h("span.muted", ` · ${fmtDateTime(s.finished_at)}`) : s.started_at ? h("span.muted", ` · ${t("dossier.inProgress")}`) : null)))]
      : null,
  );
}

export async function viewDossier(main, query = "") {
  const given = new URLSearchParams(query).get("code") || "";
  const out = h("div", { id: "dossier-out", "aria-live": "polite" });
  const code = h("input", { id: "dossier-code", name: "code", required: true, maxlength: 64, autocomplete: "off", value: given, autocapitalize: "characters" });
  const digits = h("input", { id: "dossier-digits", name: "digits", required: true, inputmode: "numeric", pattern: "[0-9]{4}", maxlength: 4, autocomplete: "off" });
  const button = h("button.btn", { type: "submit" }, t("dossier.lookup"));
  const form = h(
    "form.card",
    { id: "dossier-form", novalidate: true },
    h("label", { for: "dossier-code" }, t("dossier.code")), code,
    h("label", { for: "dossier-digits" }, t("dossier.digits")), digits,
    h("p.muted", t("dossier.digitsHelp")),
    button,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clear(out);
    if (!code.value.trim() || !/^\d{4}$/.test(digits.value.trim())) {
      out.append(h("p.error", { role: "alert" }, t("dossier.invalid")));
      return;
    }
    button.disabled = true;
    try {
      const d = await api(URL, { method: "POST", json: { code: code.value.trim(), digits: digits.value.trim() } });
      out.append(resultCard(d));
    } catch (err) {
      const msg = err.status === 404 ? t("dossier.notFound") : errorText(err);
      out.append(h("p.error", { role: "alert" }, msg));
    } finally {
      button.disabled = false;
    }
  });
  main.append(h("h1", t("dossier.title")), h("p", t("dossier.lead")), form, out);
  (given ? digits : code).focus();
}
