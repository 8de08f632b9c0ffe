"""No module of the app uses another module's private names (`_name`): what a module shares
is public, with a name that says what it does, and what is private can change freely."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

CRM = Path(__file__).resolve().parents[1] / "crm"


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _private_uses(path: Path) -> list[str]:
    """`from crm.x import _y`, and `x._y` where `x` is a crm module imported by this one."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[str] = []
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("crm"):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"line {node.lineno}: from {node.module} import {alias.name}")
                elif _is_module(f"{node.module}.{alias.name}"):
                    modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            modules.update(a.asname for a in node.names if a.name.startswith("crm") and a.asname)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            found.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
    return found


@pytest.mark.no_db
def test_no_module_uses_another_modules_private_names():
    uses = {
        str(path.relative_to(CRM.parent)): found
        for path in sorted(CRM.rglob("*.py"))
        if (found := _private_uses(path))
    }
    assert uses == {}


@pytest.mark.no_db
def test_the_check_finds_a_private_use(tmp_path):
    module = tmp_path / "example.py"
    module.write_text(
        "from crm.imports import operations\n"
        "from crm.imports.operations import _editable\n"
        "operations._waiting_at_most(10)\n"
    )
    assert _private_uses(module) == [
        "line 2: from crm.imports.operations import _editable",
        "line 3: operations._waiting_at_most",
    ]
