// Sending the outbox: each report keeps the Idempotency-Key it was given when saved, so however many
// times it is retried (lost answer, closed tab, flaky network), the server creates one case.
import { api, ApiError } from "../common/api.js";
import { EP } from "../common/endpoints.js";
import { mine, outbox } from "./store.js";

let running = null;

function isNetworkError(err) {
  return !(err instanceof ApiError) || err.status >= 500 || err.status === 408 || err.status === 429;
}

async function uploadPhotos(item) {
  // Photos go first (content-addressed on the server: a retry stores nothing twice).
  const ids = item.mediaIds || [];
  for (let i = ids.length; i < item.photos.length; i++) {
    const form = new FormData();
    const p = item.photos[i];
    form.append("file", p.blob, p.name || `photo-${i + 1}.jpg`);
    const res = await api(EP.media, { method: "POST", form });
    ids.push(res.media_id);
    item.mediaIds = ids;
    await outbox.put(item);
  }
  return ids;
}

async function sendOne(item) {
  const media_ids = await uploadPhotos(item);
  const body = { ...item.payload, media_ids };
  const res = await api(EP.reports, { method: "POST", json: body, headers: { "Idempotency-Key": item.key } });
  await mine.put({
    ref: res.ref,
    token: res.token,
    state: res.state || "submitted",
    category: item.payload.category,
    description: item.payload.description,
    submittedAt: res.submitted_at || item.createdAt,
    duplicates: res.duplicates || [],
    // the reporter's own photos stay on this device: they see them before (and whether or not) staff publish them
    photos: (item.photos || []).map((ph) => ph.blob),
  });
  await outbox.remove(item.key);
  return res;
}

/** Send everything waiting. Resolves with the answers of the reports sent now. */
export function flush() {
  if (running) return running;
  running = (async () => {
    const sent = [];
    for (const item of await outbox.all()) {
      if (item.failed) continue;
      try {
        sent.push(await sendOne(item));
      } catch (err) {
        if (isNetworkError(err)) break; // still offline: keep the order, try later
        item.failed = err.message || String(err);
        await outbox.put(item);
      }
    }
    document.dispatchEvent(new CustomEvent("outbox", { detail: { sent } }));
    return sent;
  })().finally(() => {
    running = null;
  });
  return running;
}

export function startAutoFlush() {
  window.addEventListener("online", () => flush());
  setInterval(() => {
    if (navigator.onLine) flush();
  }, 20000);
  if (navigator.onLine) flush();
}
