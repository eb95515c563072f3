"""The README's demo command: the whole site comes up, visitors of all three colours get
verdicts, the console serves, and Ctrl-C stops every process it started."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import httpx

from gateway.broker import free_port
from simulators.processes import ROOT


def children_of_work_dir(work: str) -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid,args", "-ww"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if work in line and "-m pytest" not in line]


def test_demo_runs_the_site_and_ctrl_c_stops_everything(tmp_path):
    work, port = str(tmp_path / "site"), free_port()
    demo = subprocess.Popen(
        [sys.executable, "-m", "simulators.site",
         "--work", work, "--port", str(port), "--rate", "3"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    try:
        seen: set[str] = set()
        deadline = time.monotonic() + 60
        lines = []
        while time.monotonic() < deadline and not {"green", "yellow", "red"} <= seen:
            line = demo.stdout.readline()
            assert line, "demo exited early:\n" + "".join(lines)
            lines.append(line)
            for colour in ("green", "yellow", "red"):
                if re.search(rf"{colour} [1-9]", line):
                    seen.add(colour)
        assert {"green", "yellow", "red"} <= seen, "".join(lines[-5:])
        assert "kiosk-1:on kiosk-2:on kiosk-3:on" in lines[-1]

        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
        assert page.status_code == 200 and "场所码" in page.text
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(base + "/api/entries", timeout=5).status_code == 401  # needs sign-in
        name, password = re.search(r"site manager\s+(\S+) / (\S+)", "".join(lines)).groups()
        with httpx.Client(base_url=base, timeout=5) as http:
            http.post("/api/sign-in", json={"name": name, "password": password}).raise_for_status()
            entries = http.get("/api/entries").json()
        assert entries and {e["door"] for e in entries} <= {"east-gate", "west-gate", "shop-101"}
        assert len(children_of_work_dir(work)) >= 5  # broker, platform, gateway, 3 kiosks

        demo.send_signal(signal.SIGINT)  # what Ctrl-C does
        rest, _ = demo.communicate(timeout=30)
        assert demo.returncode == 0, rest
        assert "stopped." in rest
        assert children_of_work_dir(work) == []
    finally:
        if demo.poll() is None:
            demo.kill()
        for line in children_of_work_dir(work):  # never leave orphans behind a failed test
            os.kill(int(line.split()[0]), signal.SIGKILL)
