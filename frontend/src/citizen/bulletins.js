// Salinity bulletins (bản tin mặn) for farmers: today's advice per commune and crop — take water, only at low
// tide (with the window), or not — and the bulletin history of one commune and crop. Public data, no sign-in.
import { api } from "../common/api.js";
import { clear, h } from "../common/dom.js";
import { fmtDate, fmtDateTime, fmtNumber } from "../common/format.js";
import { errorText } from "../common/errors.js";
import { getLang } from "../common/i18n.js";

const CURRENT = "/api/v1/agriculture/bulletins";
const HISTORY = "/api/v1/agriculture/bulletins/history";

const TEXT = {
  vi: {
    title: "Bản tin mặn",
    lead: "Khuyến cáo lấy nước theo xã và loại cây trồng, cập nhật hằng ngày và khi độ mặn thay đổi.",
    area: "Xã, phường",
    crop: "Cây trồng",
    all: "Tất cả",
    none: "Chưa có bản tin.",
    history: "Các bản tin trước",
    issued: "Phát hành",
    window: "Khung giờ lấy nước",
    observed: "Độ mặn cao nhất 24 giờ qua",
    forecast: "Dự báo cao nhất 2 ngày tới",
    level: { safe: "Lấy nước bình thường", caution: "Hạn chế lấy nước", harm: "Không lấy nước", unknown: "Chưa rõ" },
  },
  en: {
    title: "Salinity bulletins",
    lead: "Advice on taking water by commune and crop, updated daily and when salinity changes.",
    area: "Commune",
    crop: "Crop",
    all: "All",
    none: "No bulletin yet.",
    history: "Earlier bulletins",
    issued: "Issued",
    window: "Intake window",
    observed: "Peak salinity, last 24 h",
    forecast: "Forecast peak, next 2 days",
    level: { safe: "Take water as usual", caution: "Limit intake", harm: "Do not take water", unknown: "Unknown" },
  },
};

const tx = () => TEXT[getLang() === "en" ? "en" : "vi"];
const gL = (v) => (v == null ? "–" : `${fmtNumber(v, 1)} g/L`);

function windowText(w) {
  if (!w) return null;
  const time = (v) => new Date(v).toLocaleTimeString("vi-VN", { timeZone: "Asia/Ho_Chi_Minh", hour: "2-digit", minute: "2-digit" });
  return `${time(w.start)}–${time(w.end)} ${fmtDate(w.start)}`;
}

function card(b, { withHistory = true } = {}) {
  const s = tx();
  const en = getLang() === "en";
  const more = h("div.bulletin-history");
  const win = windowText(b.intake_window);
  const node = h(
    "li.card.bulletin",
    { dataset: { level: b.level, crop: b.crop, area: String(b.area_id) } },
    h("div.card-top", h("strong", `${b.area_name} · ${en ? b.crop_en : b.crop_vi}`), h(`span.badge.level-${b.level}`, s.level[b.level] || b.level)),
    h("p.bulletin-text", en ? b.text_en : b.text_vi),
    h(
      "dl",
      h("dt", s.observed), h("dd", gL(b.observed_g_l)),
      b.forecast_g_l != null ? [h("dt", s.forecast), h("dd", gL(b.forecast_g_l))] : null,
      win ? [h("dt", s.window), h("dd", win)] : null,
      h("dt", s.issued), h("dd", fmtDateTime(b.issued_at)),
    ),
    more,
  );
  if (withHistory) {
    const button = h("button.btn.btn-link", { type: "button" }, s.history);
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const rows = await api(`${HISTORY}?area_id=${b.area_id}&crop=${encodeURIComponent(b.crop)}&limit=20`);
        clear(more);
        more.append(h("ul.cards", rows.slice(1).map((r) => card(r, { withHistory: false }))));
        if (rows.length <= 1) more.append(h("p.muted", s.none));
      } catch (err) {
        more.append(h("p.error", { role: "alert" }, errorText(err)));
      } finally {
        button.disabled = false;
      }
    });
    more.before(button);
  }
  return node;
}

export async function viewBulletins(main) {
  const s = tx();
  const list = h("ul.cards", { id: "bulletins", "aria-live": "polite" });
  const areaSel = h("select", { id: "bulletin-area" }, h("option", { value: "" }, s.all));
  const cropSel = h("select", { id: "bulletin-crop" }, h("option", { value: "" }, s.all));
  main.append(
    h("h1", s.title),
    h("p", s.lead),
    h("div.filters", h("label", { for: "bulletin-area" }, s.area), areaSel, h("label", { for: "bulletin-crop" }, s.crop), cropSel),
    list,
  );
  let rows = [];
  try {
    rows = await api(CURRENT);
  } catch (err) {
    list.append(h("li.error", { role: "alert" }, errorText(err)));
    return;
  }
  const en = getLang() === "en";
  const areas = new Map(rows.map((b) => [String(b.area_id), b.area_name]));
  const crops = new Map(rows.map((b) => [b.crop, en ? b.crop_en : b.crop_vi]));
  for (const [id, name] of areas) areaSel.append(h("option", { value: id }, name));
  for (const [code, name] of crops) cropSel.append(h("option", { value: code }, name));
  const saved = localStorage.getItem("cityops.bulletinArea");
  if (saved && areas.has(saved)) areaSel.value = saved;
  const show = () => {
    clear(list);
    const shown = rows.filter((b) => (!areaSel.value || String(b.area_id) === areaSel.value) && (!cropSel.value || b.crop === cropSel.value));
    if (!shown.length) list.append(h("li.muted", s.none));
    for (const b of shown) list.append(card(b));
  };
  areaSel.addEventListener("change", () => {
    localStorage.setItem("cityops.bulletinArea", areaSel.value);
    show();
  });
  cropSel.addEventListener("change", show);
  show();
}
