"""The package's layout: imports point one way (docs/architecture.md).

utils <- nn <- symbolic <- io <- estimators <- cli / kansr; benchmarks use what they need
but nothing of the fit imports them. Every import is checked, also those inside functions.
"""

import ast
from pathlib import Path

import pytest

import kansr

ROOT = Path(kansr.__file__).parent

# what each part of the package may import (besides itself)
ALLOWED = {
    "utils": set(),
    "nn": {"utils"},
    "symbolic": {"utils", "nn"},
    "io": {"utils", "nn", "symbolic", "_version"},
    "estimators": {"utils", "nn", "symbolic", "io"},
    "benchmarks": {"utils", "symbolic"},
}


def _part(module: str) -> str:
    """``kansr.nn.layer`` -> ``nn``; ``kansr`` (the package itself) -> ``""``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _kansr_imports(path: Path, root: Path = ROOT) -> set[str]:
    """Every ``kansr...`` module imported anywhere in the file (relative imports resolved);
    ``root`` is the folder of the package ``kansr``."""
    package = ".".join(("kansr", *path.relative_to(root).with_suffix("").parts[:-1]))
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "kansr")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            if name.split(".")[0] == "kansr":
                found.add(name)
    return found


def _modules():
    return sorted(p for p in ROOT.rglob("*.py") if p.parent != ROOT or p.name != "__init__.py")


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_one_way(path):
    part = path.relative_to(ROOT).parts[0] if path.parent != ROOT else ""
    if part not in ALLOWED:  # top-level modules (cli, __main__, _version) may use anything
        return
    bad = sorted(
        m for m in _kansr_imports(path) if _part(m) not in ALLOWED[part] | {part} or m == "kansr"
    )
    assert not bad, f"{path.relative_to(ROOT)} ({part}) must not import {bad}"


def test_nn_and_symbolic_know_nothing_above_them():
    for path in (ROOT / "nn").rglob("*.py"):
        parts = {_part(m) for m in _kansr_imports(path)}
        assert not parts & {"symbolic", "estimators", "io"}, path
    for path in (ROOT / "symbolic").rglob("*.py"):
        parts = {_part(m) for m in _kansr_imports(path)}
        assert not parts & {"estimators", "io"}, path


def test_fit_does_not_import_the_benchmarks():
    for part in ("nn", "symbolic", "estimators", "io", "utils"):
        for path in (ROOT / part).rglob("*.py"):
            assert "benchmarks" not in {_part(m) for m in _kansr_imports(path)}, path


def test_the_checker_sees_imports_inside_functions(tmp_path):
    probe = tmp_path / "nn" / "probe.py"
    probe.parent.mkdir()
    probe.write_text(
        "def f():\n    from kansr.symbolic import library\n    from ..io import export\n"
    )
    assert _kansr_imports(probe, tmp_path) == {"kansr.symbolic", "kansr.io"}


def test_public_names():
    for name in ("KANRegressor", "MetaKANRegressor", "KAN", "MetaKAN", "save", "load"):
        assert hasattr(kansr, name)
