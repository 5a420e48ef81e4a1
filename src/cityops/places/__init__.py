"""Places: the registry of located things of the city that are not cases (stations, gates, schools, ...)."""
