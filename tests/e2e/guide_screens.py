"""Screenshots for the documentation's guides, taken by the browser tests at the moments the
guides describe, so the pictures in docs/ show the app as it is.

Every run saves them under test-artifacts/screens/ (so the calls are exercised and the pictures
can be looked at); with CRM_DOCS_SCREENSHOTS=1 (`make docs-screens`) they go to
docs/assets/screens/, the committed copies the guides show. Only on request: each run differs
(random names, today's dates), and a test run should leave the work tree as it found it.

Pictures are the visible part of the page (1280×900, or one element), in 256 colours: a third
of the size of a full-colour PNG, and the same to the eye for a page of flat colours and text.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from PIL import Image

from tests.running import REPO_ROOT

DOCS_SCREENS = REPO_ROOT / "docs" / "assets" / "screens"
ARTIFACT_SCREENS = REPO_ROOT / "test-artifacts" / "screens"
NAME = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")

# Names saved in this session: two moments saved under one name would hide one of them.
_saved: set[str] = set()


def screens_dir() -> Path:
    wanted = os.environ.get("CRM_DOCS_SCREENSHOTS", "").strip().lower() in {"1", "true", "yes"}
    return DOCS_SCREENS if wanted else ARTIFACT_SCREENS


def save_guide_screen(page, name: str, element=None) -> Path:
    """Saves what the page shows now (or only `element`, a locator) as <name>.png."""
    if not NAME.fullmatch(name):
        raise ValueError(f"a screenshot name is lower-case words joined by '-', not {name!r}")
    if name in _saved:
        raise ValueError(f"two screenshots are named {name!r}")
    _saved.add(name)
    folder = screens_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    (element or page).screenshot(path=path, animations="disabled")
    with Image.open(path) as shot:
        reduced = shot.convert("RGB").quantize(colors=256, dither=Image.Dither.NONE)
    reduced.save(path, optimize=True)
    return path
