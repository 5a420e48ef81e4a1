"""The base map: a local PMTiles archive served with HTTP range requests, or a tile URL the province runs."""
