// The IOC's shared state: the drill-down scope (province or one area) and who is signed in (if anyone).
export const scope = { areaId: null, areaName: null };
export const viewer = { me: null };

/** ``url`` with ``key=<area id>`` added when the dashboard is drilled into an area. */
export function scoped(url, key = "area_id") {
  if (!scope.areaId) return url;
  return `${url}${url.includes("?") ? "&" : "?"}${key}=${scope.areaId}`;
}

/** Whether the signed-in user may take ``action`` (from /auth/me's actions list). */
export function may(action) {
  return Boolean(viewer.me && (viewer.me.actions || []).includes(action));
}
