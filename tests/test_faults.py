"""No scan lost, none twice: the whole site under kill -9 and cut links.

Kiosks, the real broker, the gateway and the platform simulator run as real processes;
a seeded schedule kills them and cuts the network between them (simulators/chaos.py).
The seed is printed: `python -m simulators.chaos --seed N` replays the schedule.
"""

from __future__ import annotations

import os
import random

import pytest

from simulators import chaos


@pytest.mark.timeout(600)
def test_every_accepted_scan_reaches_the_platform_once_in_order(tmp_path):
    seed = int(os.environ.get("CHAOS_SEED", random.randrange(1_000_000)))
    report = chaos.run(tmp_path / "site", seed, duration=60, kiosks=4, rate_hz=30)
    print("\n".join(report["schedule"]))
    print({k: v for k, v in report.items() if k != "schedule"})
    assert report["problems"] == [], f"seed {seed}: {report['problems']}"
    assert report["total_accepted"] >= 1000, f"seed {seed}: too few scans to mean much"
    assert report["sqlite_files_checked"] >= 6  # 4 outboxes, the gateway, the platform
    for name, kiosk in report["kiosks"].items():
        assert kiosk["at_platform"] == kiosk["accepted"], (seed, name, kiosk)
    kills = [line for line in report["schedule"] if "kill -9" in line]
    cuts = [line for line in report["schedule"] if " cut " in line]
    assert kills and cuts, f"seed {seed}: the schedule injected no faults"
