// Maps without tiles: area boundaries and features drawn on a plain background (no internet at run time).
// A tile URL may be configured later (<body data-tiles="...">) when a tile server exists.
import L from "./leaflet-global.js";
// leaflet.css is imported by each app's stylesheet (CSS of lazily loaded chunks is not injected).
import { esc } from "./format.js";
import { nameOf, t } from "./i18n.js";

export const PROVINCE_CENTER = [10.95, 106.25]; // Tây Ninh (with former Long An)
export const PROVINCE_ZOOM = 9;

export function createMap(el, { center = PROVINCE_CENTER, zoom = PROVINCE_ZOOM, ...opts } = {}) {
  const map = L.map(el, { center, zoom, minZoom: 6, maxZoom: 19, zoomSnap: 0.25, attributionControl: false, ...opts });
  const tiles = document.body.dataset.tiles;
  if (tiles) L.tileLayer(tiles, { maxZoom: 19 }).addTo(map);
  el.classList.add("plain-map");
  return map;
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
