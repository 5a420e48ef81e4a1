// API errors as sentences in the reader's language, chosen by the error's code (never the server's English text).
import { t } from "./i18n.js";

const BY_STATUS = { 400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type", 422: "validation_error", 429: "too_many_requests", 503: "service_unavailable" };

/** t() turns an unknown key into readable text; a known key never equals that fallback. */
function known(key) {
  return t(key) !== key.slice(key.indexOf(".") + 1).replaceAll("_", " ");
}

/** The message to show for an error thrown by api(): by code, else by HTTP status, else network/server. */
export function errorText(err) {
  if (err && err.code && known(`error.${err.code}`)) return t(`error.${err.code}`);
  const byStatus = err && BY_STATUS[err.status];
  if (byStatus) return t(`error.${byStatus}`);
  if (err && err.status >= 500) return t("error.server");
  return t("error.network");
}
