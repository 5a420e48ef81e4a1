"""The education sector: schools from preschool to upper secondary, and education reports."""
