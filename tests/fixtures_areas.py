"""Area fixtures (the loaded Tây Ninh / Long An units) shared by tests."""
