"""Influencers recruited as champions of the WEST Principles, and what they do for them."""
