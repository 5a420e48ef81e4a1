// Service worker of the citizen PWA: precache the app shell, serve it offline; API calls go to the
// network (the page keeps unsent reports in its IndexedDB outbox and sends them when back online).
/* global __SHELL__, __VERSION__ */
const CACHE = `cityops-shell-${__VERSION__}`;
const SHELL = __SHELL__;
const DATA_CACHE = "cityops-data";
const OFFLINE_DATA = ["/api/v1/areas.geojson", "/api/v1/reports/categories"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("cityops-shell-") && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const req = event.request;
  if (req.method !== "GET") return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  // Reference data the report form needs offline: network first, the last copy when offline.
  if (OFFLINE_DATA.includes(url.pathname)) {
    event.respondWith(
      fetch(req)
        .then((res) => {
          if (res.ok) {
            const copy = res.clone();
            caches.open(DATA_CACHE).then((c) => c.put(req, copy));
          }
          return res;
        })
        .catch(() => caches.open(DATA_CACHE).then((c) => c.match(req)).then((hit) => hit || Response.error())),
    );
    return;
  }
  if (url.pathname.startsWith("/api/") || url.pathname.startsWith("/open311/") || url.pathname.startsWith("/sta/")) return;
  if (req.mode === "navigate" && url.pathname === "/") {
    // network first for the page (fresh asset URLs), the cached shell when offline
    event.respondWith(
      fetch(req)
        .then((res) => {
          const copy = res.clone();
          if (res.ok) caches.open(CACHE).then((c) => c.put("/", copy));
          return res;
        })
        .catch(() => caches.match("/")),
    );
    return;
  }
  if (url.pathname.startsWith("/static/dist/") || url.pathname === "/manifest.webmanifest") {
    event.respondWith(
      caches.match(req).then(
        (hit) =>
          hit ||
          fetch(req).then((res) => {
            if (res.ok && url.pathname.startsWith("/static/dist/")) {
              const copy = res.clone();
              caches.open(CACHE).then((c) => c.put(req, copy));
            }
            return res;
          }),
      ),
    );
  }
});

// Web Push: an area alert arrives encrypted; show it, and open the alert when the notification is tapped.
// The payload is JSON {title, body, category, alert_id, severity, opened_at, url} (cityops.alerts.delivery).
self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch {
    data = { body: event.data ? event.data.text() : "" };
  }
  const url = typeof data.url === "string" && data.url.startsWith("/") ? data.url : "/#/alerts";
  event.waitUntil(
    self.registration.showNotification(data.title || "Cảnh báo", {
      body: data.body || "",
      tag: data.alert_id ? `alert-${data.alert_id}` : undefined, // an escalation replaces the earlier notice
      renotify: Boolean(data.alert_id),
      requireInteraction: data.severity === "critical",
      timestamp: data.opened_at ? Date.parse(data.opened_at) : Date.now(),
      data: { url },
      icon: "/static/dist/icons/icon.svg",
    }),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = new URL((event.notification.data && event.notification.data.url) || "/#/alerts", self.location.origin).href;
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((wins) => {
      for (const win of wins) {
        if (new URL(win.url).origin === self.location.origin && "focus" in win) {
          return win.navigate(url).then((w) => (w || win).focus());
        }
      }
      return self.clients.openWindow(url);
    }),
  );
});
