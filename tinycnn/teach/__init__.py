"""Teaching tools."""
