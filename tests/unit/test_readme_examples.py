"""Every ```python block of README.md runs as printed, on its own, in an empty folder.

Each block runs in a fresh interpreter (``python -c``) whose working directory is a new empty temporary directory,
with the repository on ``PYTHONPATH``: nothing leaks from one block (or from the test process) into another, and a
block that opens a file it did not write, or uses a name it did not define, fails.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"

_FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)


def python_blocks(text: str) -> list[tuple[int, str]]:
    """``(line, code)`` of every ```python fenced block, ``line`` being the 1-based line of the opening fence."""
    return [(text.count("\n", 0, m.start()) + 1, m.group(1)) for m in _FENCE.finditer(text)]


BLOCKS = python_blocks(README.read_text(encoding="utf-8"))


def test_the_readme_has_python_examples():
    assert len(BLOCKS) >= 2


def test_the_block_finder_finds_fenced_python_only():
    text = "intro\n```python\nx = 1\n```\n```sh\nls\n```\n```python\ny = 2\n```\n"
    assert python_blocks(text) == [(2, "x = 1\n"), (8, "y = 2\n")]


@pytest.mark.parametrize("line, code", BLOCKS, ids=[f"README.md:{line}" for line, _ in BLOCKS])
def test_readme_python_block_runs_as_printed(line, code, tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env.pop("PYTHONSTARTUP", None)
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, (f"README.md block at line {line} failed (exit {proc.returncode}):\n"
                                  f"{proc.stderr[-4000:]}")
