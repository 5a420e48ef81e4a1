// An alert's age when it is old ("cách đây 26 giờ"), and "could not load" (not "no alerts") when the list
// cannot be fetched: small, on the home screen; the subscription panel (alerts-sub.js) loads with its page.
import { getLang } from "../common/i18n.js";

const STALE_MS = 6 * 3600 * 1000; // an alert opened longer ago than this shows its age

const TEXT = {
  vi: {
    loadFailed: "Không tải được cảnh báo. Hãy kiểm tra mạng.",
    ago: (d) => `cách đây ${d}`,
    hours: (n) => `${n} giờ`,
    days: (n) => `${n} ngày`,
  },
  en: {
    loadFailed: "Could not load alerts. Check your connection.",
    ago: (d) => `${d} ago`,
    hours: (n) => `${n} h`,
    days: (n) => (n === 1 ? "1 day" : `${n} days`),
  },
};

const tt = (key) => TEXT[getLang() === "en" ? "en" : "vi"][key];

/** "cách đây 26 giờ" for an alert opened more than six hours ago, else "". */
export function alertAge(openedAt, now = Date.now()) {
  const ms = now - Date.parse(openedAt);
  if (!(ms > STALE_MS)) return "";
  const hours = Math.floor(ms / 3600000);
  return tt("ago")(hours < 48 ? tt("hours")(hours) : tt("days")(Math.floor(hours / 24)));
}

export const alertsLoadFailed = () => tt("loadFailed");
