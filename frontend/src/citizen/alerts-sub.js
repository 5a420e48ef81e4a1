// Area alerts to this phone by Web Push: choose wards (search, or "where I am" → ward), subscribe, change,
// unsubscribe. The browser keeps the device key the server hands out once (localStorage); the push
// endpoint never leaves the browser except in the registration itself. Loaded with the alerts page only.
import { api, items } from "../common/api.js";
import { announce, clear, h } from "../common/dom.js";
import { EP } from "../common/endpoints.js";
import { errorText } from "../common/errors.js";
import { getLang } from "../common/i18n.js";

const KEY = "cityops.pushDevice";
const AREAS = "cityops.pushAreas";

const TEXT = {
  vi: {
    title: "Nhận cảnh báo trên điện thoại",
    intro: "Chọn phường/xã bạn muốn nhận cảnh báo (độ mặn, ngập, không khí…).",
    search: "Tìm phường/xã",
    here: "Nơi tôi đang ở",
    save: "Nhận cảnh báo",
    update: "Cập nhật khu vực",
    stop: "Ngừng nhận",
    saved: "Đã đăng ký nhận cảnh báo.",
    stopped: "Đã ngừng nhận cảnh báo.",
    none: "Chưa chọn khu vực nào.",
    unsupported: "Trình duyệt này không hỗ trợ thông báo đẩy.",
    denied: "Bạn đã chặn thông báo. Hãy cho phép trong cài đặt trình duyệt.",
    off: "Máy chủ chưa bật thông báo đẩy.",
    noGeo: "Không xác định được vị trí.",
    remove: "Bỏ",
  },
  en: {
    title: "Alerts on this phone",
    intro: "Choose the wards/communes whose alerts you want (salinity, flooding, air…).",
    search: "Find a ward/commune",
    here: "Where I am",
    save: "Get alerts",
    update: "Update areas",
    stop: "Stop alerts",
    saved: "Subscribed to alerts.",
    stopped: "Alerts stopped.",
    none: "No area chosen yet.",
    unsupported: "This browser does not support push notifications.",
    denied: "Notifications are blocked. Allow them in the browser settings.",
    off: "The server has not enabled push notifications.",
    noGeo: "Could not find your location.",
    remove: "Remove",
  },
};

const tt = (key) => TEXT[getLang() === "en" ? "en" : "vi"][key];

function chosen() {
  try {
    return JSON.parse(localStorage.getItem(AREAS) || "[]");
  } catch {
    return [];
  }
}

function b64ToBytes(b64) {
  const s = atob(b64.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

async function browserSubscription() {
  if (!("serviceWorker" in navigator) || !("PushManager" in window)) throw new Error(tt("unsupported"));
  const key = await api("/api/v1/push/public-key");
  if (!key.enabled) throw new Error(tt("off"));
  const permission = await Notification.requestPermission();
  if (permission !== "granted") throw new Error(tt("denied"));
  const reg = await navigator.serviceWorker.ready;
  const existing = await reg.pushManager.getSubscription();
  if (existing) return existing;
  return reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: b64ToBytes(key.public_key) });
}

async function save(areas) {
  const body = { area_ids: areas.map((a) => a.id), locale: getLang() === "en" ? "en" : "vi" };
  const deviceKey = localStorage.getItem(KEY);
  if (deviceKey) {
    try {
      await api("/api/v1/push/devices/current", { method: "PUT", json: body, headers: { "X-Device-Key": deviceKey } });
      return;
    } catch (err) {
      if (err.status !== 404) throw err; // the server forgot this device: register again
    }
  }
  const sub = await browserSubscription();
  const out = await api("/api/v1/push/devices", { method: "POST", json: { ...body, subscription: sub.toJSON() } });
  localStorage.setItem(KEY, out.device_key);
}

async function stop() {
  const deviceKey = localStorage.getItem(KEY);
  if (deviceKey) {
    try {
      await api("/api/v1/push/devices/current", { method: "DELETE", headers: { "X-Device-Key": deviceKey } });
    } catch (err) {
      if (err.status !== 404) throw err;
    }
  }
  localStorage.removeItem(KEY);
  if ("serviceWorker" in navigator) {
    const reg = await navigator.serviceWorker.getRegistration();
    const sub = reg && (await reg.pushManager.getSubscription());
    if (sub) await sub.unsubscribe();
  }
}

/** The subscription panel, appended to ``box`` (the alerts page). */
export function renderSubscription(box) {
  let areas = chosen();
  const list = h("ul.push-areas", { id: "push-areas" });
  const status = h("p.muted", { role: "status", id: "push-status" });
  const results = h("ul.push-results", { id: "push-results" });
  const search = h("input", { id: "push-search", type: "search", placeholder: tt("search"), "aria-label": tt("search") });
  const saveBtn = h("button.btn.btn-primary", { type: "button", id: "push-save" });
  const stopBtn = h("button.btn", { type: "button", id: "push-stop" }, tt("stop"));

  const paint = () => {
    clear(list);
    if (!areas.length) list.append(h("li.muted", tt("none")));
    for (const a of areas) {
      list.append(
        h(
          "li",
          { dataset: { areaId: String(a.id) } },
          a.name,
          " ",
          h("button.btn-link", { type: "button", onclick: () => { areas = areas.filter((x) => x.id !== a.id); paint(); } }, tt("remove")),
        ),
      );
    }
    saveBtn.textContent = localStorage.getItem(KEY) ? tt("update") : tt("save");
    saveBtn.disabled = !areas.length;
    stopBtn.hidden = !localStorage.getItem(KEY);
  };
  const add = (a) => {
    if (!areas.some((x) => x.id === a.id)) areas = [...areas, { id: a.id, name: a.name }];
    clear(results);
    search.value = "";
    paint();
  };

  let timer = 0;
  search.addEventListener("input", () => {
    clearTimeout(timer);
    const q = search.value.trim();
    if (q.length < 2) return clear(results);
    timer = setTimeout(async () => {
      try {
        const found = items(await api(`/api/v1/areas?level=commune&limit=10&q=${encodeURIComponent(q)}`));
        clear(results);
        for (const a of found) results.append(h("li", h("button.btn-link", { type: "button", onclick: () => add(a) }, a.name)));
      } catch (err) {
        status.textContent = errorText(err);
      }
    }, 250);
  });

  const here = h("button.btn", { type: "button", id: "push-here" }, tt("here"));
  here.addEventListener("click", () => {
    if (!navigator.geolocation) return (status.textContent = tt("noGeo"));
    navigator.geolocation.getCurrentPosition(
      async (pos) => {
        try {
          const found = await api(EP.areaLookup(pos.coords.latitude.toFixed(5), pos.coords.longitude.toFixed(5)));
          add(found.area);
        } catch (err) {
          status.textContent = errorText(err);
        }
      },
      () => (status.textContent = tt("noGeo")),
      { timeout: 10000, maximumAge: 300000 },
    );
  });

  saveBtn.addEventListener("click", async () => {
    saveBtn.disabled = true;
    try {
      await save(areas);
      localStorage.setItem(AREAS, JSON.stringify(areas));
      status.textContent = tt("saved");
      announce(tt("saved"), "ok");
    } catch (err) {
      status.textContent = err.status ? errorText(err) : err.message;
    }
    paint();
  });
  stopBtn.addEventListener("click", async () => {
    try {
      await stop();
      status.textContent = tt("stopped");
    } catch (err) {
      status.textContent = errorText(err);
    }
    paint();
  });

  paint();
  box.append(
    h(
      "section.push-sub",
      { id: "push-sub" },
      h("h2", tt("title")),
      h("p.muted", tt("intro")),
      h("div.row", search, here),
      results,
      list,
      h("div.row", saveBtn, stopBtn),
      status,
    ),
  );
}
