// Active alerts of the drill-down scope (open and acknowledged), with their age, and acknowledgement by the
// operators the policy allows (alert.manage); rings around the stations that carry an alert.
import { api, items } from "../common/api.js";
import { announce, clear, h, $ } from "../common/dom.js";
import { EP } from "../common/endpoints.js";
import { fmtDateTime, fmtNumber } from "../common/format.js";
import { getLang, t } from "../common/i18n.js";
import { L } from "../common/map.js";
import { may, scoped } from "./scope.js";

export const alertState = { alerts: [] };

function age(iso) {
  const minutes = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 60000));
  if (minutes < 60) return t("ioc.ageMinutes", { n: fmtNumber(minutes) });
  if (minutes < 48 * 60) return t("ioc.ageHours", { n: fmtNumber(Math.floor(minutes / 60)) });
  return t("ioc.ageDays", { n: fmtNumber(Math.floor(minutes / 1440)) });
}

async function acknowledge(alert, button, onDone) {
  button.disabled = true;
  try {
    await api(EP.alertAck(alert.id), { method: "POST" });
    announce(t("ioc.acked"));
  } catch (err) {
    button.disabled = false;
    announce(err.status === 409 ? t("ioc.ackConflict") : t("ioc.ackFailed"), "error");
  }
  onDone();
}

let generation = 0;

export async function loadAlerts(stations, ringLayer, onChange) {
  const mine = ++generation;
  let open = [];
  let acked = [];
  let failed = false;
  try {
    [open, acked] = await Promise.all([
      api(scoped(`${EP.alerts}?state=open`, "area")).then(items),
      api(scoped(`${EP.alerts}?state=acknowledged`, "area")).then(items),
    ]);
  } catch {
    failed = true;
  }
  if (mine !== generation) return; // a newer load draws instead
  alertState.alerts = [...open, ...acked];
  const ul = clear($("#alerts"));
  const en = getLang() === "en";
  const manage = may("alert.manage");
  for (const a of alertState.alerts) {
    const li = h(
      `li.alert.sev-${a.severity}`,
      { dataset: { id: String(a.id), state: a.state } },
      h("strong", t(`severity.${a.severity}`)),
      h("span.muted", ` · ${fmtDateTime(a.opened_at)} · `, h("span.age", age(a.opened_at))),
      h("p", (en ? a.message_en : a.message_vi) || a.message_vi || ""),
    );
    if (a.state === "acknowledged") {
      li.append(h("span.acked", `✓ ${t("ioc.ackedAt")} ${fmtDateTime(a.acknowledged_at)}`));
    } else if (manage) {
      const button = h("button.btn.ack", { type: "button" }, t("ioc.ack"));
      button.addEventListener("click", () => acknowledge(a, button, onChange));
      li.append(button);
    }
    ul.append(li);
  }
  if (failed) ul.append(h("li.muted.error", t("ioc.alertsFailed")));
  else if (!alertState.alerts.length) ul.append(h("li.muted", t("ioc.noAlerts")));
  ringLayer.clearLayers();
  const byDs = new Map(alertState.alerts.filter((a) => a.datastream_id).map((a) => [a.datastream_id, a]));
  for (const s of stations) {
    const a = s.datastreams.map((d) => byDs.get(d.id)).find(Boolean);
    if (a) L.circleMarker([s.lat, s.lon], { radius: 16, color: a.severity === "critical" ? "#c62828" : "#e0a100", weight: 3, fill: false, className: "alert-ring", interactive: false }).addTo(ringLayer);
  }
}
