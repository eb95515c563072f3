"""firmware/privacy.py is shared with MicroPython boards: the same masks must come out of
real MicroPython (the WebAssembly port the board suite uses, in Node) as out of CPython."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from firmware import privacy

FIRMWARE = Path(__file__).resolve().parent.parent / "firmware"
CASES = [
    ("mask_name", "张三明", "张*明"),
    ("mask_name", "张三", "张*"),
    ("mask_name", "欧阳小明", "欧**明"),
    ("mask_name", "ZHANG, SAN", "Z****, S**"),
    ("mask_id_number", "410105199001011234", "410***********1234"),
    ("mask_id_number", "KOR410502125665", "KOR********5665"),
    ("mask_phone", "13812345678", "138****5678"),
    ("mask_address", "河南省郑州市金水区花园路1号", "河南省郑州市********"),
    ("mask_date", "1990-01-02", "1990-**-**"),
    ("mask_token", "abcdefghijklmnop", "abcd***(16)"),
    ("mask_document_number", "H12345678", "*******78"),
]
RUNNER = """
import { readFileSync } from "node:fs";
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";
const [source, cases] = process.argv.slice(-2);
const mp = await loadMicroPython({ heapsize: 4 * 1024 * 1024, stdout: (l) => console.log(l) });
mp.FS.mkdirTree("/lib");
mp.FS.writeFile("/lib/privacy.py", readFileSync(source));
mp.runPython(`
import sys, json, privacy
print("interpreter:", sys.implementation.name)
for fn, arg, _ in json.loads(${JSON.stringify(cases)}):
    print("OUT", json.dumps([fn, arg, getattr(privacy, fn)(arg)]))
`);
"""


@pytest.mark.parametrize(("fn", "arg", "expected"), CASES)
def test_masks_under_cpython(fn: str, arg: str, expected: str) -> None:
    assert getattr(privacy, fn)(arg) == expected


def test_same_masks_under_micropython() -> None:
    node = shutil.which("node")
    package = FIRMWARE / "node_modules/@micropython/micropython-webassembly-pyscript"
    if not node or not package.is_dir():
        pytest.skip("node or the MicroPython WebAssembly package is missing (scripts/setup)")
    run = subprocess.run(
        [
            node,
            "--input-type=module",
            "-e",
            RUNNER,
            str(FIRMWARE / "privacy.py"),
            json.dumps(CASES),
        ],
        cwd=FIRMWARE,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "interpreter: micropython" in run.stdout, run.stdout[-2000:] + run.stderr[-2000:]
    results = [json.loads(line[4:]) for line in run.stdout.splitlines() if line.startswith("OUT ")]
    assert [(fn, arg, out) for fn, arg, out in results] == [
        (fn, arg, exp) for fn, arg, exp in CASES
    ]
