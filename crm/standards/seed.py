"""The published texts the project carries: version 1.0's principles (codes and titles).

Migration 0002 seeds them; a test checks the seeded rows equal this file, so the two never drift.
"""

from __future__ import annotations

import csv
from pathlib import Path

DATA_DIR = Path(__file__).parent / "data"
PRINCIPLES_1_0 = DATA_DIR / "west-principles-1.0.csv"


def published_principles(path: Path = PRINCIPLES_1_0) -> list[tuple[str, str]]:
    """(code, title) in the published order."""
    with path.open(newline="", encoding="utf-8") as handle:
        return [(row["code"].strip(), row["title"].strip()) for row in csv.DictReader(handle)]
