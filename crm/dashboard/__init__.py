"""The staff home page: figures, follow-ups, the champion pipeline, the next events."""
