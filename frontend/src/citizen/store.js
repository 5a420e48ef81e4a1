// Local storage of the citizen app in IndexedDB: the outbox of reports not yet sent (with their photos
// as Blobs) and "my reports" (reference, id and the tracking token that lets this device follow them).
const DB_NAME = "cityops-citizen";
const DB_VERSION = 1;
let dbPromise = null;

function open() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      const req = indexedDB.open(DB_NAME, DB_VERSION);
      req.onupgradeneeded = () => {
        const db = req.result;
        if (!db.objectStoreNames.contains("outbox")) db.createObjectStore("outbox", { keyPath: "key" });
        if (!db.objectStoreNames.contains("mine")) db.createObjectStore("mine", { keyPath: "ref" });
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }
  return dbPromise;
}

async function tx(store, mode, fn) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const t = db.transaction(store, mode);
    const s = t.objectStore(store);
    let out;
    const r = fn(s);
    if (r) r.onsuccess = () => (out = r.result);
    t.oncomplete = () => resolve(out);
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error);
  });
}

export const outbox = {
  put: (item) => tx("outbox", "readwrite", (s) => s.put(item)),
  all: () => tx("outbox", "readonly", (s) => s.getAll()).then((l) => (l || []).sort((a, b) => a.createdAt.localeCompare(b.createdAt))),
  remove: (key) => tx("outbox", "readwrite", (s) => s.delete(key)),
  count: () => tx("outbox", "readonly", (s) => s.count()),
};

export const mine = {
  put: (item) => tx("mine", "readwrite", (s) => s.put(item)),
  get: (ref) => tx("mine", "readonly", (s) => s.get(ref)),
  all: () => tx("mine", "readonly", (s) => s.getAll()).then((l) => (l || []).sort((a, b) => (b.submittedAt || "").localeCompare(a.submittedAt || ""))),
};

export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}
