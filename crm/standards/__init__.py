"""The WEST Principles standard, by version, and its principles."""
