"""Adoption pledges: organizations committing to a version of the standard and reporting on it."""
