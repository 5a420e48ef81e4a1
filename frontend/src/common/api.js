// fetch wrapper for the native API: JSON in/out, cookie session, CSRF header on writes,
// errors as ApiError with the server's {"error": {code, message, details}}.
export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export const CSRF_COOKIE = "cityops_csrf";
export const CSRF_HEADER = "X-CSRF-Token";

export function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return decodeURIComponent(v.join("="));
  }
  return null;
}

let csrfToken = null;
export function setCsrf(token) {
  csrfToken = token || null;
}

export async function api(path, { method = "GET", json, form, headers = {}, signal } = {}) {
  const h = { Accept: "application/json", ...headers };
  let body;
  if (json !== undefined) {
    h["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form; // FormData: the browser sets the multipart boundary
  }
  if (method !== "GET" && method !== "HEAD") {
    const token = csrfToken || cookie(CSRF_COOKIE);
    if (token) h[CSRF_HEADER] = token;
  }
  const res = await fetch(path, { method, headers: h, body, credentials: "same-origin", signal });
  const type = res.headers.get("content-type") || "";
  const data = type.includes("json") ? await res.json().catch(() => null) : await res.text();
  if (!res.ok) {
    const err = data && data.error ? data.error : Array.isArray(data) && data[0] ? { message: data[0].description } : {};
    throw new ApiError(res.status, err.code, err.message || (typeof data === "string" ? data.slice(0, 200) : ""), err.details);
  }
  return data;
}

/** A list endpoint may answer a bare list or {items: [...]}: take the list either way. */
export function items(data) {
  if (Array.isArray(data)) return data;
  if (data && Array.isArray(data.items)) return data.items;
  if (data && Array.isArray(data.value)) return data.value;
  if (data && Array.isArray(data.features)) return data.features;
  return [];
}
