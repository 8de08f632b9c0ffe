"""The volunteer working groups, their members, and the tasks that carry the work."""
