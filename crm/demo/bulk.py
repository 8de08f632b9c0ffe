"""Bulk scale data (placeholder until implemented)."""


def generate(**kwargs):
    raise NotImplementedError
