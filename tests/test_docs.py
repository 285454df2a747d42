"""The documentation runs: every ```python block of README.md and docs/*.md is executed.

Each file's blocks run in order in one namespace, in a temporary working directory, with
matplotlib's Agg backend. A block opened with ```python no-run, or preceded by a
``<!-- no-run -->`` comment line, is skipped; other languages (```bash, ...) never run.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_NO_RUN_COMMENT = re.compile(r"^\s*<!--\s*no-run\s*-->\s*$")


def python_blocks(text: str) -> list[tuple[int, str]]:
    """``(first line number, code)`` of every runnable ```python block of markdown ``text``."""
    blocks = []
    lines = text.splitlines()
    i = 0
    previous = ""  # last non-blank line before the current one
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            if lines[i].strip():
                previous = lines[i]
            i += 1
            continue
        fence, info = match["fence"], match["info"].strip().split()
        start = i + 1
        end = start
        while end < len(lines) and not lines[end].strip().startswith(fence):
            end += 1
        runnable = (
            bool(info)
            and info[0].lower() in ("python", "py")
            and "no-run" not in info[1:]
            and not _NO_RUN_COMMENT.match(previous)
        )
        if runnable:
            indent = len(match["indent"])
            body = [line[indent:] if line[:indent].isspace() else line for line in lines[start:end]]
            blocks.append((start + 1, "\n".join(body) + "\n"))
        previous = lines[end] if end < len(lines) else ""
        i = end + 1
    return blocks


def test_parser_selects_python_blocks_only():
    text = "\n".join(
        [
            "```bash",
            "pip install kansr",
            "```",
            "```python",
            "a = 1",
            "```",
            "```python no-run",
            "raise SystemExit",
            "```",
            "<!-- no-run -->",
            "",
            "```python",
            "raise SystemExit",
            "```",
            "```py",
            "b = a + 1",
            "```",
            "````python",
            "c = '```'",
            "````",
        ]
    )
    assert python_blocks(text) == [(5, "a = 1\n"), (16, "b = a + 1\n"), (19, "c = '```'\n")]


@pytest.mark.parametrize("path", DOC_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_doc_examples_run(path, tmp_path, monkeypatch):
    blocks = python_blocks(path.read_text(encoding="utf-8"))
    if not blocks:
        pytest.skip(f"{path.name} has no python examples")
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(ROOT))
    namespace = {"__name__": f"docs_{path.stem}"}
    try:
        for line, code in blocks:
            name = f"{path.relative_to(ROOT)}:{line}"
            exec(compile(code, name, "exec"), namespace)  # noqa: S102 - our own documentation
    finally:
        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close("all")


_LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")


@pytest.mark.parametrize("path", DOC_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_local_links_exist(path):
    """Relative links and images of the docs point to files that exist."""
    missing = []
    for match in _LINK.finditer(path.read_text(encoding="utf-8")):
        target = match["target"].split("#")[0]
        if not target or "://" in target or target.startswith("mailto:"):
            continue
        if not (path.parent / target).exists():
            missing.append(target)
    assert not missing, f"{path.name} links to missing files: {missing}"
