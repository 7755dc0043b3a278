"""Files okno keeps itself (operators' uploads): sniffing, limits, metadata and signed links."""
