// Maps: area boundaries and features over the configured base map (GET /api/v1/basemap): the province's tile
// URL, or the PMTiles archive cityops serves with range requests (read by the pmtiles package, loaded only
// then), or none — a plain background with the wards named (no internet at run time in any case).
import L from "./leaflet-global.js";
// leaflet.css is imported by each app's stylesheet (CSS of lazily loaded chunks is not injected).
import { esc } from "./format.js";
import { nameOf, t } from "./i18n.js";

export const PROVINCE_CENTER = [10.95, 106.25]; // Tây Ninh (with former Long An)
export const PROVINCE_ZOOM = 9;

const LABEL_ZOOM = 11; // ward names show from this zoom when there is no base map

let basemapInfo = null;
/** What GET /api/v1/basemap says (fetched once per page); {kind: "none"} when it cannot be read. */
export function basemap() {
  basemapInfo ??= fetch("/api/v1/basemap", { headers: { Accept: "application/json" } })
    .then((r) => (r.ok ? r.json() : { kind: "none" }))
    .catch(() => ({ kind: "none" }));
  return basemapInfo;
}

// A view may remove its map (navigation) while a fetch for it is in flight: touch it only while it lives
// (Leaflet's remove() drops the container id; opening a tooltip on a removed map throws in Leaflet).
const alive = (map) => map._containerId !== undefined;

const drawsTiles = (info) => info.kind === "url" || (info.kind === "pmtiles" && info.raster);

async function addBasemap(map, el) {
  const info = await basemap();
  if (!drawsTiles(info) || !alive(map)) return;
  const opts = { maxZoom: 19, attribution: info.attribution || "" };
  let layer;
  if (info.kind === "url") {
    layer = L.tileLayer(info.url, opts);
  } else {
    const { PMTiles, leafletRasterLayer } = await import("pmtiles");
    layer = leafletRasterLayer(new PMTiles(info.url), { ...opts, maxNativeZoom: info.max_zoom, minNativeZoom: info.min_zoom });
  }
  if (!alive(map)) return;
  layer.addTo(map);
  layer.bringToBack();
  if (info.attribution) L.control.attribution({ prefix: false }).addAttribution(info.attribution).addTo(map);
  el.classList.remove("plain-map");
  el.classList.add("has-basemap");
  el.dataset.basemap = info.kind;
}

export function createMap(el, { center = PROVINCE_CENTER, zoom = PROVINCE_ZOOM, ...opts } = {}) {
  const map = L.map(el, { center, zoom, minZoom: 6, maxZoom: 19, zoomSnap: 0.25, attributionControl: false, ...opts });
  el.classList.add("plain-map");
  addBasemap(map, el);
  return map;
}

/** Without a base map, name the wards on the map (permanent labels from LABEL_ZOOM). */
async function labelAreas(map, layer) {
  if (drawsTiles(await basemap()) || !alive(map)) return;
  const labelled = [];
  layer.eachLayer((lyr) => {
    const p = (lyr.feature && lyr.feature.properties) || {};
    if (p.level !== "commune") return;
    lyr.unbindTooltip();
    lyr.bindTooltip(esc(areaName(p)), { permanent: true, direction: "center", className: "area-label", opacity: 0.85 });
    labelled.push(lyr);
  });
  const show = () => {
    if (!alive(map)) return;
    const on = map.getZoom() >= LABEL_ZOOM;
    for (const lyr of labelled) (on ? lyr.openTooltip() : lyr.closeTooltip());
  };
  map.on("zoomend", show);
  show();
}

function areaName(props) {
  return nameOf(props) || props.name || props.code || "";
}

/** Draw GET /api/v1/areas.geojson; approximate (cell) boundaries are dashed and flagged in the tooltip. */
export async function drawAreas(map, { url = "/api/v1/areas.geojson", onClick, fit = true } = {}) {
  let data;
  try {
    const res = await fetch(url, { headers: { Accept: "application/geo+json, application/json" } });
    if (!res.ok) throw new Error(String(res.status));
    data = await res.json();
  } catch {
    return null;
  }
  if (!alive(map)) return null;
  const layer = L.geoJSON(data, {
    style: (f) => {
      const p = f.properties || {};
      const approx = Boolean(p.approximate);
      const level = p.level || "";
      const province = level === "province" || level === "tinh";
      return {
        className: `area area-${level || "unit"}${approx ? " area-approx" : ""}`,
        color: province ? "#0b3d66" : "#2f6f9f",
        weight: province ? 2.5 : 1,
        dashArray: approx ? "4 3" : null,
        fillColor: province ? "#ffffff" : "#dce9f3",
        fillOpacity: province ? 0 : 0.35,
      };
    },
    onEachFeature: (f, lyr) => {
      const p = f.properties || {};
      const approx = p.approximate ? ` (${t("map.approx")})` : "";
      lyr.bindTooltip(`${esc(areaName(p))}${esc(approx)}`, { sticky: true });
      if (onClick) lyr.on("click", () => onClick(f, lyr));
    },
  }).addTo(map);
  layer.bringToBack();
  labelAreas(map, layer);
  if (fit && layer.getLayers().length) {
    const b = layer.getBounds();
    if (b.isValid()) map.fitBounds(b, { padding: [8, 8] });
  }
  return layer;
}

export function pinIcon(cls = "") {
  return L.divIcon({ className: `pin ${cls}`, html: "<span></span>", iconSize: [26, 34], iconAnchor: [13, 33] });
}

export function dotIcon(cls = "", label = "") {
  return L.divIcon({ className: `dot ${cls}`, html: `<span>${esc(label)}</span>`, iconSize: [22, 22], iconAnchor: [11, 11] });
}

export { L };
