"""The package stands alone: no server code, no web framework, typed, documented."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import license_client

PACKAGE = Path(license_client.__file__).parent


def test_importing_pulls_in_no_server_or_framework() -> None:
    probe = (
        "import sys, license_client, license_client.wsgi;"
        "roots = {m.split('.')[0] for m in sys.modules};"
        "print(sorted(roots & {'license_server', 'flask', 'werkzeug', 'sqlalchemy',"
        " 'markupsafe', 'requests'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_no_module_imports_the_server() -> None:
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(n.startswith("license_server") for n in names), path


def _public_definitions(tree: ast.Module) -> list[ast.FunctionDef | ast.ClassDef]:
    """Return the module's public classes and functions, and their public methods."""
    found: list[ast.FunctionDef | ast.ClassDef] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            found.append(node)
        if isinstance(node, ast.ClassDef):
            found += [n for n in node.body if isinstance(n, ast.FunctionDef)]
    return [n for n in found if not n.name.startswith("_") or n.name == "__call__"]


def test_modules_and_public_functions_are_documented() -> None:
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assert ast.get_docstring(tree), f"{path.name} has no module docstring"
        lines = len(path.read_text(encoding="utf-8").splitlines())
        assert path.name == "__init__.py" or 50 <= lines <= 300, path.name
        for node in _public_definitions(tree):
            assert ast.get_docstring(node), f"{path.name}:{node.name}"
    assert (PACKAGE / "py.typed").exists()
