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

const UNITS = { Cel: "°C", "ug/m3": "µg/m³", "mg/m3": "mg/m³", "[pH]": "", "g/L": "g/L", "mS/cm": "mS/cm", "m3/s": "m³/s", "/h": "/h" };
/** A UCUM code as people write it (Cel → °C, ug/m3 → µg/m³). */
export function unit(code) {
  if (!code) return "";
  return code in UNITS ? UNITS[code] : code;
}
