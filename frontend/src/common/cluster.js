// Leaflet.markercluster needs the global L set first: import order here guarantees it.
import L from "./leaflet-global.js";
import "leaflet.markercluster";
import "leaflet.markercluster/dist/MarkerCluster.css";

export default L;
