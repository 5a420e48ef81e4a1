"""The tourism sector: tourist and relic sites, and tourism reports."""
