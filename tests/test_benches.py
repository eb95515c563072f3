"""Every `just bench-…` recipe still runs and ends with its JSON summary.

The benchmarks are how speed and memory are shown, so a change that breaks one (a moved
module, a new required config key, an outbox schema change) must fail here rather than on
the day someone measures. Each runs at a tiny size: these are not measurements, and
nothing here asserts a time; they assert the recipe works and reports what it says.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
JUST = ROOT / ".venv" / "bin" / "just"

pytestmark = pytest.mark.slow

# recipe, tiny arguments, keys its summary must carry, exit codes it may end with
# (bench-flood exits 1 when its target is missed: at this size, a result too)
BENCHES = [
    ("bench-roundtrip", ["-n", "20"], ["scan_to_signal_ms", "bare_broker_round_trip_ms"], {0}),
    ("bench-drain", ["-n", "300", "--idle-scans", "5"],
     ["drain_s", "live_during_drain_ms", "live_idle_ms"], {0}),
    ("bench-ingest", ["--kiosks", "2", "--per-kiosk", "50"], [], {0}),
    ("bench-verdict", ["-n", "10", "--gap-ms", "5"], [], {0}),
    ("bench-flood", ["--replays", "500", "--idle-scans", "5"],
     ["live_idle_ms", "live_during_flood_ms"], {0, 1}),
    ("bench-board", ["-n", "10"], [], {0}),
    ("bench-idcard", ["--reads", "5"], [], {0}),
    ("bench-verdict-signed", ["-n", "10", "--keys", "5", "--qr-runs", "3"], [], {0}),
    ("bench-registry", ["500", "1"], [], {0}),
    ("bench-shop", ["--scans", "5", "--bare", "5"], [], {0}),
    ("bench-decode", ["--per-category", "1"], [], {0}),
    ("bench-trace", ["--events", "20000", "--queries", "5", "--scans", "1"], [], {0}),
]


@pytest.mark.parametrize(("recipe", "args", "keys", "exits"), BENCHES,
                         ids=[b[0] for b in BENCHES])
def test_the_bench_runs_and_ends_with_its_json_summary(recipe, args, keys, exits, tmp_path):
    if recipe == "bench-trace":
        args = [*args, "--db", str(tmp_path / "trace.sqlite")]
    run = subprocess.run([str(JUST), recipe, *args], cwd=ROOT, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode in exits, f"{recipe} exited {run.returncode}:\n{run.stderr[-3000:]}"
    lines = run.stdout.strip().splitlines()
    assert lines, f"{recipe} printed nothing:\n{run.stderr[-3000:]}"
    summary = json.loads(lines[-1])
    assert isinstance(summary, dict)
    for key in keys:
        assert key in summary, f"{recipe}: no {key!r} in {sorted(summary)}"
    if recipe == "bench-drain":
        assert summary["left_in_outbox"] == 0, "the backlog drained completely"
