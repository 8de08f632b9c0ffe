"""The import contracts hold: the core imports no domain, and no import circles.

The contracts live in pyproject.toml ([tool.importlinter]); import-linter checks them here, so
`make test` and CI fail on a new circle or on a core module importing a domain, and name the
import chain that broke them. `.venv/bin/lint-imports` gives the same report by hand.
"""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest
from importlinter.cli import lint_imports

pytestmark = pytest.mark.no_db

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def test_the_import_contracts_are_kept():
    # On failure, the captured output above names the broken contract and its imports.
    assert lint_imports(config_filename=str(PYPROJECT), no_cache=True, no_logo=True) == 0


def test_the_core_imports_no_domain_even_for_the_type_checker():
    """The contracts leave out imports under `if TYPE_CHECKING:` (models name each other there);
    the core has none of those either: a domain's types reach it as protocols (core.db.Actor)."""
    graph = grimp.build_graph("crm", cache_dir=None)  # TYPE_CHECKING imports included

    def in_core(module: str) -> bool:
        return module == "crm.core" or module.startswith("crm.core.")

    outside = sorted(
        f"{module} -> {imported}"
        for module in graph.modules
        if in_core(module)
        for imported in graph.find_modules_directly_imported_by(module)
        if not in_core(imported) and imported != "crm.extensions"
    )
    assert outside == []
