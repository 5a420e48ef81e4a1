// Stations of the drill-down scope: diamonds on the map coloured by level, and a list with each station's
// health (sensing.health's rule: online, late, offline), latest reading time and level. Picking one charts it.
import { api, items } from "../common/api.js";
import { clear, h, $ } from "../common/dom.js";
import { EP } from "../common/endpoints.js";
import { esc, fmtDateTime, fmtNumber, unit } from "../common/format.js";
import { getLang, t } from "../common/i18n.js";
import { L } from "../common/map.js";
import { scoped } from "./scope.js";

export const LEVEL_COLOUR = { good: "#2e7d32", warn: "#e0a100", bad: "#c62828", nodata: "#757575" };
export const stationState = { stations: [] };

function name(d) {
  return getLang() === "en" ? d.property_en : d.property_vi;
}

function listRow(s, onPick) {
  const button = h("button.station-pick", { type: "button", dataset: { id: String(s.id) } }, s.name);
  button.addEventListener("click", () => onPick(s));
  const readings = s.datastreams
    .filter((d) => d.value != null)
    .slice(0, 3)
    .map((d) => `${name(d)} ${fmtNumber(d.value, 2)} ${unit(d.unit)}`.trim())
    .join(" · ");
  return h(
    `tr.lvl-${s.level}`,
    { dataset: { health: s.health } },
    h("td", button),
    h("td", h(`span.health.h-${s.health}`, t(`health.${s.health}`))),
    h("td", h(`span.level.lvl-${s.level}`, t(`legend.${s.level}`))),
    h("td.num", s.last_time ? fmtDateTime(s.last_time) : "–"),
    h("td.readings", readings || "–"),
  );
}

const RANK = { nodata: 0, good: 1, warn: 2, bad: 3 };
const NEAR_PX = 16; // stations closer than this on screen are fanned out around the worst one
const RING_PX = 15;
const drawn = []; // [marker, station] of the last draw

/** Fan out stations that would overlap at the map's zoom: the worst stays in place, the others sit on a
 * small ring around it (the diamond moves, the marker's position does not). Runs again on every zoom. */
export function declutter(map) {
  const groups = [];
  const order = [...drawn].sort((a, b) => RANK[b[1].level] - RANK[a[1].level]);
  for (const [m] of order) {
    const p = map.latLngToLayerPoint(m.getLatLng());
    const group = groups.find((g) => g.p.distanceTo(p) < NEAR_PX);
    if (group) group.members.push([m, p]);
    else groups.push({ p, members: [[m, p]] });
  }
  for (const g of groups) {
    g.members.forEach(([m, p], k) => {
      const dot = m.getElement()?.querySelector("span");
      if (!dot) return;
      const n = g.members.length - 1;
      const angle = k ? (2 * Math.PI * (k - 1)) / n - Math.PI / 2 : 0;
      const dx = k ? Math.round(g.p.x + RING_PX * Math.cos(angle) - p.x) : 0;
      const dy = k ? Math.round(g.p.y + RING_PX * Math.sin(angle) - p.y) : 0;
      dot.style.translate = k ? `${dx}px ${dy}px` : ""; // CSSOM: allowed by the CSP
    });
  }
}
let generation = 0;

export async function loadStations(layer, onPick) {
  const mine = ++generation;
  let failed = false;
  let found = [];
  try {
    found = items(await api(scoped(EP.iocStations)));
  } catch {
    failed = true;
  }
  if (mine !== generation) return; // a newer load (scope change, live update) draws instead
  stationState.stations = found;
  layer.clearLayers();
  drawn.length = 0;
  for (const s of stationState.stations) {
    const colour = LEVEL_COLOUR[s.level];
    const icon = L.divIcon({ className: `station lvl-${s.level} h-${s.health}`, html: "<span></span>", iconSize: [18, 18], iconAnchor: [9, 9] });
    const m = L.marker([s.lat, s.lon], { icon, title: s.name, keyboard: true, zIndexOffset: 500 + 100 * RANK[s.level] }); // the worst on top
    m.on("add", () => {
      const dot = m.getElement()?.querySelector("span");
      if (dot) dot.style.backgroundColor = colour; // CSSOM: allowed by the CSP, unlike style attributes
    });
    const rows = s.datastreams
      .map((d) => `<tr><td>${esc(name(d))}</td><td class="lvl-${d.level}">${d.value == null ? "–" : esc(fmtNumber(d.value, 2))} ${esc(unit(d.unit))}</td></tr>`)
      .join("");
    m.bindPopup(`<strong>${esc(s.name)}</strong> · ${esc(t(`health.${s.health}`))}<table>${rows}</table>`);
    m.on("click", () => onPick(s));
    m.addTo(layer);
    drawn.push([m, s]);
  }
  if (layer._map) declutter(layer._map);
  const body = clear($("#station-rows"));
  const order = { bad: 0, warn: 1, good: 2, nodata: 3 };
  const health = { offline: 0, late: 1, online: 2 };
  const sorted = [...stationState.stations].sort((a, b) => order[a.level] - order[b.level] || health[a.health] - health[b.health] || a.name.localeCompare(b.name, "vi"));
  for (const s of sorted) body.append(listRow(s, onPick));
  const counts = { online: 0, late: 0, offline: 0 };
  for (const s of stationState.stations) counts[s.health] = (counts[s.health] || 0) + 1;
  $("#station-summary").textContent = failed
    ? t("ioc.loadFailed")
    : ["online", "late", "offline"].map((k) => `${t(`health.${k}`)}: ${fmtNumber(counts[k])}`).join(" · ");
}
