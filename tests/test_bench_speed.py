"""Smoke test of ``bench/speed.py``: kansr and MLP rows only, tiny repetition counts."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "bench" / "speed.py"


def _load_speed():
    spec = importlib.util.spec_from_file_location("bench_speed", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _table_names(text: str) -> list[str]:
    rows = [ln for ln in text.splitlines() if ln.startswith("| ") and not ln.startswith("| ---")]
    return [row.split("|")[1].strip() for row in rows]


def test_quick_run_kansr_rows(tmp_path):
    md = tmp_path / "benchmarks.md"
    md.write_text("# Benchmarks\n")
    cmd = [
        sys.executable,
        str(SCRIPT),
        "--quick",
        "--no-pykan",
        "--steps",
        "2",
        "--grid-samples",
        "1024",
        "--markdown",
        str(md),
    ]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    names = _table_names(out)
    for expected in (
        "kansr KAN, uniform grid",
        "kansr KAN, grid updated (non-uniform knots)",
        "kansr KAN + exact sparsity penalty",
        "kansr KAN.update_grid",
    ):
        assert expected in names, out
    assert any(name.startswith("MLP [8, ") for name in names), out
    assert not any(name.startswith("pykan") for name in names), out
    ref = next(ln for ln in out.splitlines() if ln.startswith("| kansr KAN, uniform grid |"))
    assert "| 1.00× |" in ref and "| 65,537 |" in ref
    for needle in ("torch ", "threads 1", "CPU: ", "date: ", "--quick --no-pykan"):
        assert needle in out
    text = md.read_text()
    assert text.startswith("# Benchmarks\n") and "kansr KAN.update_grid" in text
    assert list(tmp_path.iterdir()) == [md]  # nothing else written to the working directory


def test_mlp_width_matches_kan_parameter_count():
    speed = _load_speed()
    from kansr.nn.network import KAN

    n = KAN(list(speed.WIDTH), grid=speed.GRID, k=speed.K, seed=0).n_parameters()
    h = speed.mlp_hidden_width(n)
    count = speed.mlp_param_count([8, h, h, 1])
    assert all(
        abs(count - n) <= abs(speed.mlp_param_count([8, g, g, 1]) - n) for g in (h - 1, h + 1)
    )
    assert abs(count - n) / n < 0.01


def test_missing_pykan_message(monkeypatch):
    speed = _load_speed()
    monkeypatch.setattr(speed.importlib.util, "find_spec", lambda name: None)
    ok, message = speed.pykan_status()
    assert not ok
    assert message.startswith("pykan 0.2.8 not installed: pip install pykan==0.2.8")
    assert "skipping pykan rows" in message


def test_target_lines_compute_the_issue_ratios():
    speed = _load_speed()
    rows = [
        {"key": "kansr", "ms": 10.0},
        {"key": "kansr-nonuniform", "ms": 16.0},
        {"key": "kansr-penalty", "ms": 15.0},
        {"key": "pykan-fast", "ms": 40.0},
        {"key": "pykan-reg", "ms": 450.0},
        {"key": "mlp", "ms": 5.0},
    ]
    grid = [
        {"name": "kansr", "seconds": 1.0, "increase_mib": 100.0},
        {"name": "pykan", "seconds": 20.0, "increase_mib": 900.0},
    ]
    lines = speed.target_lines(rows, grid)
    by_name = {ln.split("|")[1].strip(): ln for ln in lines[2:]}
    assert (
        "| 30.00× | ≥ 20× | yes |" in by_name["step with exact penalty vs pykan fit(lamb>0) step"]
    )
    assert "| 4.00× | ≥ 5× | no |" in by_name["step without penalty vs pykan speed() mode"]
    assert "| 2.00× | ≤ 3× | yes |" in by_name["step without penalty vs equal-parameter MLP"]
    assert "| 3.20× | – | – |" in by_name["step, non-uniform knots, vs equal-parameter MLP"]
    assert "| 20.00× | ≥ 10× | yes |" in by_name["grid update time, pykan / kansr"]
    assert "| 9.00× | ≥ 10× | no |" in by_name["grid update memory increase, pykan / kansr"]
    missing = speed.target_lines(rows[:1], [])
    assert all("| – |" in ln for ln in missing[2:]) and len(missing) == 2 + len(speed.TARGETS)
