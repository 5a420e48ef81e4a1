"""The health sector: hospitals, clinics and ward health stations, and health and food-safety reports."""
