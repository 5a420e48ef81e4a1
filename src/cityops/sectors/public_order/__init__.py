"""The public-order sector: security and urban-order reports (the ward police and urban order team)."""
