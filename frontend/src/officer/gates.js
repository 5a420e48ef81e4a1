// Sluice gates (cống thủy lợi) for operators: each gate's state, the salinity rule's recommendation, and the
// buttons that record a new state (with an optional note) in the place's status history.
import { api } from "../common/api.js";
import { announce, clear, h } from "../common/dom.js";
import { fmtDateTime, fmtNumber } from "../common/format.js";
import { errorText } from "../common/errors.js";
import { getLang } from "../common/i18n.js";

const GATES = "/api/v1/agriculture/gates";
const STATES = ["open", "partly_open", "closed", "maintenance"];
const TEXT = {
  vi: {
    title: "Cống thủy lợi", lead: "Trạng thái các cống và khuyến nghị đóng/mở theo độ mặn phía sông.",
    state: { open: "Mở", partly_open: "Mở một phần", closed: "Đóng", maintenance: "Đang bảo trì" },
    action: { close: "Đề nghị đóng", open: "Có thể mở", keep: "Giữ nguyên", none: "Không có khuyến nghị" },
    since: "Từ", note: "Ghi chú", set: "Ghi nhận trạng thái", saved: "Đã ghi nhận trạng thái cống.",
    river: "Độ mặn phía sông", none: "Chưa có cống nào.",
  },
  en: {
    title: "Sluice gates", lead: "The gates' states and the open/close advice from the river-side salinity.",
    state: { open: "Open", partly_open: "Partly open", closed: "Closed", maintenance: "Under maintenance" },
    action: { close: "Close advised", open: "May open", keep: "Keep", none: "No advice" },
    since: "Since", note: "Note", set: "Record state", saved: "The gate's state was recorded.",
    river: "River-side salinity", none: "No gates yet.",
  },
};
const tx = () => TEXT[getLang() === "en" ? "en" : "vi"];

function gateCard(g, reload) {
  const s = tx();
  const en = getLang() === "en";
  const select = h("select", { id: `gate-${g.id}-state`, "aria-label": s.set }, STATES.map((v) => h("option", { value: v, selected: v === g.status }, s.state[v])));
  const note = h("input", { id: `gate-${g.id}-note`, maxlength: 500, placeholder: s.note, "aria-label": s.note });
  const button = h("button.btn", { type: "submit" }, s.set);
  const form = h("form.inline", select, note, button);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    button.disabled = true;
    try {
      await api(`/api/v1/places/${g.id}/status`, { method: "POST", json: { status: select.value, note: note.value.trim() } });
      announce(s.saved);
      await reload();
    } catch (err) {
      announce(errorText(err), "error");
      button.disabled = false;
    }
  });
  return h(
    "li.card.gate",
    { dataset: { gate: String(g.id), status: g.status || "", action: g.action } },
    h("div.card-top", h("strong", g.name), h(`span.badge.gate-${g.status}`, s.state[g.status] || g.status || "–")),
    h("p", h(`span.badge.advice-${g.action}`, s.action[g.action]), " ", en ? g.text_en : g.text_vi),
    h("p.muted", `${s.river}: ${g.observed_g_l == null ? "–" : `${fmtNumber(g.observed_g_l, 1)} g/L`}`, g.status_at ? ` · ${s.since} ${fmtDateTime(g.status_at)}` : ""),
    form,
  );
}

export async function viewGates(main) {
  const s = tx();
  const list = h("ul.cards", { id: "gates" });
  main.append(h("h1", s.title), h("p", s.lead), list);
  const load = async () => {
    clear(list);
    try {
      const gates = await api(GATES);
      if (!gates.length) list.append(h("li.muted", s.none));
      for (const g of gates) list.append(gateCard(g, load));
    } catch (err) {
      list.append(h("li.error", { role: "alert" }, errorText(err)));
    }
  };
  await load();
}
