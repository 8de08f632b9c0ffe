"""Likely duplicate contacts and organizations: the scan, dismissals, and merging a pair."""
