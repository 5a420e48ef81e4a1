"""Administration the officer workspace's admin pages need beyond the other capabilities' APIs: categories
added by the administration, and which areas are live (the rollout from the Tân An pilot to the province)."""
