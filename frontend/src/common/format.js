// Dates shown as dd/mm/yyyy (and HH:MM) in Asia/Ho_Chi_Minh, whatever the browser's zone.
export const TZ = "Asia/Ho_Chi_Minh";
const dateFmt = new Intl.DateTimeFormat("en-GB", { timeZone: TZ, day: "2-digit", month: "2-digit", year: "numeric" });
const timeFmt = new Intl.DateTimeFormat("en-GB", { timeZone: TZ, hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
const dayKeyFmt = new Intl.DateTimeFormat("en-CA", { timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit" });

function asDate(v) {
  if (v == null || v === "") return null;
  const d = v instanceof Date ? v : new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
}

export function fmtDate(v) {
  const d = asDate(v);
  return d ? dateFmt.format(d) : "";
}

export function fmtDateTime(v) {
  const d = asDate(v);
  return d ? `${timeFmt.format(d)} ${dateFmt.format(d)}` : "";
}

/** yyyy-mm-dd of the local (Việt Nam) day, for grouping. */
export function localDayKey(v) {
  const d = asDate(v);
  return d ? dayKeyFmt.format(d) : "";
}

export function fmtNumber(n, digits = 0) {
  if (n == null || Number.isNaN(Number(n))) return "–";
  const locale = document.documentElement.lang === "en" ? "en-GB" : "vi-VN";
  return Number(n).toLocaleString(locale, { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

/** Escape text for the few places that build HTML strings (Leaflet popups). */
export function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

// Units as people write them, per language (from the UCUM codes of the observed properties); never raw UCUM.
const UNITS = {
  Cel: "°C",
  "ug/m3": "µg/m³",
  "mg/m3": "mg/m³",
  "m3/s": "m³/s",
  "[pH]": "",
  "{AQI}": "",
  "[NTU]": "NTU",
  "dB{A}": "dB(A)",
  "{vehicles}/h": { vi: "xe/giờ", en: "vehicles/h" },
  "/h": { vi: "/giờ", en: "/h" },
  "km/h": "km/h",
  // indicator units
  d: { vi: "ngày", en: "days" },
  h: { vi: "giờ", en: "h" },
  "10*9.{VND}": { vi: "tỷ đồng", en: "bn VND" },
  "{score}": { vi: "điểm", en: "points" },
  "{reports}/10.10*3{residents}": { vi: "/10.000 dân", en: "/10,000 residents" },
};
/** A UCUM code as people write it in the page's language (Cel → °C, {vehicles}/h → xe/giờ, {AQI} → none). */
export function unit(code) {
  if (!code) return "";
  const known = UNITS[code];
  if (known != null) return typeof known === "string" ? known : known[document.documentElement.lang === "en" ? "en" : "vi"];
  // unknown: drop annotations and brackets rather than show them
  return code.replace(/\{[^}]*\}/g, "").replace(/[[\]]/g, "");
}

/** A number with its unit in the page's locale ("2,13 g/L", "2.959 xe/giờ"). */
export function fmtMeasure(value, code, digits = 2) {
  const u = unit(code);
  return u ? `${fmtNumber(value, digits)} ${u}` : fmtNumber(value, digits);
}
