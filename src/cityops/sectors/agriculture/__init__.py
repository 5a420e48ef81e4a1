"""The agriculture sector: sluice gates (cống) on the Vàm Cỏ Tây and its canals, and their status."""
