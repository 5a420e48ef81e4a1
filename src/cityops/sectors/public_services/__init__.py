"""The public-services sector: markets, one-stop shops, and lighting, water and tree reports."""
