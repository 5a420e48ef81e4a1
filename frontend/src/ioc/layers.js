// Sector map layers (``map_layer`` panels): each a GeoJSON path of the sector's own API, fetched for the
// drill-down scope, coloured by its legend, listed in a layer toggle with the legend, refreshed on its timer.
import { api, items } from "../common/api.js";
import { clear, h } from "../common/dom.js";
import { esc } from "../common/format.js";
import { getLang, t } from "../common/i18n.js";
import { L } from "../common/map.js";
import { scoped } from "./scope.js";

const GREY = "#757575";
const layers = new Map(); // panel code -> { panel, group, on, timer }
let map = null;
let box = null;

function colourOf(panel, props) {
  const style = panel.layer.style_property;
  if (!style) return panel.layer.legend[0]?.colour || "#5c6bc0";
  const entry = panel.layer.legend.find((e) => e.value === String(props[style]));
  return entry ? entry.colour : GREY;
}

function label(obj, en) {
  return (en ? obj.name_en || obj.label_en : obj.name_vi || obj.label_vi) || obj.name || "";
}

async function fetchLayer(entry) {
  const { panel, group } = entry;
  let data;
  try {
    data = await api(scoped(panel.layer.url));
  } catch {
    entry.failed = true;
    render();
    return;
  }
  entry.failed = false;
  const en = getLang() === "en";
  group.clearLayers();
  const geo = L.geoJSON(
    { type: "FeatureCollection", features: items(data) },
    {
      pointToLayer: (f, latlng) => L.circleMarker(latlng, { radius: 6, weight: 1, color: "#fff", fillOpacity: 0.9 }),
      style: (f) => {
        const colour = colourOf(panel, f.properties || {});
        return { color: colour, fillColor: colour, weight: 4, opacity: 0.9, fillOpacity: 0.35 };
      },
      onEachFeature: (f, lyr) => {
        const name = label(f.properties || {}, en);
        const style = panel.layer.style_property;
        const entry2 = style ? panel.layer.legend.find((e) => e.value === String((f.properties || {})[style])) : null;
        const text = [name, entry2 ? label(entry2, en) : ""].filter(Boolean).join(" · ");
        if (text) lyr.bindTooltip(esc(text));
      },
    },
  );
  geo.eachLayer((l) => l.addTo(group));
  entry.count = group.getLayers().length;
  render();
}

function toggle(entry, on) {
  entry.on = on;
  clearInterval(entry.timer);
  entry.timer = null;
  if (on) {
    entry.group.addTo(map);
    fetchLayer(entry);
    if (entry.panel.layer.refresh_seconds) entry.timer = setInterval(() => fetchLayer(entry), entry.panel.layer.refresh_seconds * 1000);
  } else {
    entry.group.remove();
  }
  render();
}

function render() {
  if (!box) return;
  const en = getLang() === "en";
  clear(box);
  if (!layers.size) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  box.append(h("h2", t("ioc.layers")));
  for (const entry of layers.values()) {
    const { panel } = entry;
    const input = h("input", { type: "checkbox", checked: entry.on, id: `layer-${panel.code}`, dataset: { layer: panel.code } });
    input.addEventListener("change", () => toggle(entry, input.checked));
    const title = en ? panel.title_en : panel.title_vi;
    const state = entry.failed ? ` (${t("ioc.layerFailed")})` : "";
    const item = h("div.layer", { dataset: { layer: panel.code, features: String(entry.count) } });
    item.append(h("label.layer-toggle", { for: `layer-${panel.code}` }, input, ` ${title}${state}`));
    if (entry.on && panel.layer.legend.length) {
      const legend = h("ul.layer-legend");
      for (const e of panel.layer.legend) {
        const sw = h("i.sw");
        sw.style.backgroundColor = e.colour;
        legend.append(h("li", sw, en ? e.label_en : e.label_vi));
      }
      item.append(legend);
    }
    box.append(item);
  }
}

/** Draw the ``map_layer`` panels (the panel endpoint lists only those the caller may see). */
export function setLayers(theMap, toggleBox, panels) {
  map = theMap;
  box = toggleBox;
  const seen = new Set();
  for (const panel of panels.filter((p) => p.kind === "map_layer" && p.layer)) {
    seen.add(panel.code);
    let entry = layers.get(panel.code);
    if (!entry) {
      entry = { panel, group: L.layerGroup(), on: false, timer: null, failed: false, count: 0 };
      layers.set(panel.code, entry);
      toggle(entry, panel.layer.default_on);
    } else {
      entry.panel = panel;
      if (entry.on) fetchLayer(entry); // the scope changed: refetch for it
    }
  }
  for (const [code, entry] of layers) {
    if (seen.has(code)) continue;
    toggle(entry, false);
    layers.delete(code);
  }
  render();
}

export function relabelLayers() {
  for (const entry of layers.values()) if (entry.on) fetchLayer(entry);
  render();
}
