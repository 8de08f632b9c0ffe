"""Demo data: a realistic small dataset (sample) and bulk scale data (bulk)."""
