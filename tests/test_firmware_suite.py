"""The board firmware's test suite, run twice: here under CPython, one pytest item per
firmware test, and under real MicroPython (WebAssembly port, in Node). Both runs must
see the same number of tests, so a test MicroPython cannot import fails loudly instead
of silently vanishing."""

from __future__ import annotations

import importlib
import pkgutil
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import firmware.tests
from firmware.tests import minitest

FIRMWARE = Path(__file__).resolve().parent.parent / "firmware"
MODULES = sorted(
    "firmware.tests." + m.name
    for m in pkgutil.iter_modules(firmware.tests.__path__)
    if m.name.startswith("test_")
)
CASES = [
    (cls, meth)
    for name in MODULES
    for cls, meth in minitest.cases(importlib.import_module(name))
]


@pytest.mark.parametrize(
    ("cls", "meth"),
    CASES,
    ids=[f"{c.__module__.rsplit('.', 1)[-1]}.{c.__name__}.{m}" for c, m in CASES],
)
def test_under_cpython(cls: type, meth: str) -> None:
    minitest.run_case(cls, meth)


def test_whole_suite_under_micropython() -> None:
    node = shutil.which("node")
    assert node, "node is not installed (scripts/setup installs nodejs)"
    package = FIRMWARE / "node_modules/@micropython/micropython-webassembly-pyscript"
    assert package.is_dir(), "run `npm ci` in firmware/ (scripts/setup does)"
    run = subprocess.run(
        [node, "tests/run_micropython.mjs"], cwd=FIRMWARE, capture_output=True, text=True,
        timeout=90, check=False,
    )
    output = run.stdout + run.stderr
    assert "interpreter: micropython" in output, output[-3000:]
    summary = re.search(r"minitest: (\d+) passed, (\d+) failed", output)
    assert summary, output[-3000:]
    assert (int(summary[1]), int(summary[2])) == (len(CASES), 0), output[-3000:]
    assert run.returncode == 0, output[-3000:]
