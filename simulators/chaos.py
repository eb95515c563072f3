"""Fault injection for the whole site: real processes, killed, frozen and cut at random.

Kiosks with a fast stream of simulated visitors, the real broker, the gateway and the
platform simulator run as separate processes; kiosk↔broker, gateway↔broker and
gateway↔platform traffic goes through links that can be cut or blackholed
(simulators/netcut.py). A seeded schedule kill -9's processes (restarting them, as systemd
would), freezes them with SIGSTOP for a while, and cuts, blackholes and restores links.
Then the kiosks stop taking visitors, everything is allowed to drain, and the result is
checked: every scan a kiosk accepted is at the platform exactly once, in order per kiosk
and numbering epoch, no (kiosk, epoch, seq) is held by two scans, and every SQLite file
passes its integrity check.

A scan counts as accepted the moment the kiosk's outbox commits it: a trigger the harness
puts in each outbox before its kiosk first starts copies every committed row's id into a
table of its own, in the same transaction (never from logs or from `last_seq`).

`python -m simulators.chaos --seed N` replays one schedule.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from firmware import schema
from firmware.kiosk import outbox as kiosk_outbox
from gateway.broker import Broker, free_port
from simulators import processes

# The harness's record of every scan an outbox committed, filled inside the insert's own
# transaction; the kiosk neither knows nor reads it.
ACCEPTED = """
CREATE TABLE IF NOT EXISTS chaos_accepted (id TEXT PRIMARY KEY, seq INTEGER NOT NULL,
                                           epoch INTEGER NOT NULL);
CREATE TRIGGER IF NOT EXISTS chaos_accepted AFTER INSERT ON outbox BEGIN
    INSERT OR IGNORE INTO chaos_accepted (id, seq, epoch) VALUES (NEW.id, NEW.seq,
        coalesce((SELECT value FROM meta WHERE key = 'epoch'), 0));
END;
"""


class CutLink:
    """A simulators.netcut process between two ports."""

    def __init__(self, name: str, target: int) -> None:
        self.name = name
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "simulators.netcut",
             "--listen", str(self.port), "--to", str(target)],
            cwd=processes.ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        assert self.proc.stdout.readline().strip() == "ready"

    def command(self, what: str) -> None:
        """`cut`, `blackhole` or `restore`."""
        self.proc.stdin.write(what + "\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().strip() == what

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


@dataclass
class Site:
    work: Path
    broker: Broker
    platform: processes.Process
    platform_port: int
    gateway: processes.Process
    gateway_config: dict
    kiosks: dict[str, processes.Process]
    kiosk_configs: dict[str, dict]
    links: dict[str, CutLink]
    log: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        self.log.append(f"{time.strftime('%H:%M:%S')} {text}")


def sqlite_files(work: Path) -> list[Path]:
    return sorted(p for p in work.rglob("*.sqlite"))


def integrity(path: Path) -> str:
    db = sqlite3.connect(path)
    try:
        return db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()


def prepare_outbox(path: Path) -> None:
    """The kiosk's outbox as the kiosk would create it, with the harness's trigger."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None)
    try:
        schema.migrate(db, path, kiosk_outbox.COMPONENT)
        db.execute("PRAGMA journal_mode=WAL")
        for statement in schema.statements(ACCEPTED):
            db.execute(statement)
    finally:
        db.close()


def outbox_state(path: Path) -> tuple[int, int]:
    """(last sequence number issued, scans still unacknowledged) of a kiosk's outbox."""
    db = sqlite3.connect(path, timeout=10)
    try:
        last = db.execute("SELECT value FROM meta WHERE key='last_seq'").fetchone()[0]
        waiting = db.execute("SELECT count(*) FROM outbox").fetchone()[0]
        return last, waiting
    finally:
        db.close()


def accepted(path: Path) -> dict[str, tuple[int, int]]:
    """Every scan the outbox ever committed: id -> (epoch, seq)."""
    db = sqlite3.connect(path, timeout=10)
    try:
        return {row[0]: (row[1], row[2])
                for row in db.execute("SELECT id, epoch, seq FROM chaos_accepted")}
    finally:
        db.close()


def start_site(work: Path, kiosks: int, rate_hz: float) -> Site:
    broker = Broker(work / "broker").start()
    platform_port = free_port()
    platform, platform_url = processes.start_platform(work, port=platform_port)
    links = {
        "kiosks-broker": CutLink("kiosks-broker", broker.port),
        "gateway-broker": CutLink("gateway-broker", broker.port),
        "gateway-platform": CutLink("gateway-platform", platform_port),
    }
    gw_config = processes.gateway_config(
        work, "chaos", links["gateway-broker"].port,
        f"http://127.0.0.1:{links['gateway-platform'].port}",
        lookup_deadline_s=0.3, upload_timeout_s=2.0,
    )
    gw_config["broker"]["keepalive"] = 2
    gateway, _ = processes.start_gateway(work, gw_config)
    configs, procs = {}, {}
    for n in range(1, kiosks + 1):
        name = f"kiosk-{n}"
        cfg = processes.kiosk_config(work, "chaos", name, f"door-{n}", links["kiosks-broker"].port,
                                     seed=n, rate_hz=rate_hz)
        cfg.update(verdict_timeout_s=0.4, resend_after_s=2.0, seq_sync_s=2.0)
        cfg["broker"]["keepalive"] = 2
        configs[name] = cfg
        prepare_outbox(work / name / "outbox.sqlite")
        procs[name] = processes.start_kiosk(work, cfg)
    return Site(work, broker, platform, platform_port, gateway, gw_config, procs, configs, links)


def restart(site: Site, what: str) -> None:
    if what == "broker":
        site.broker.start()
    elif what == "platform":
        site.platform, _ = processes.start_platform(site.work, port=site.platform_port)
    elif what == "gateway":
        site.gateway = processes.Process(
            "gateway", "gateway", ["--config", str(site.work / "gateway.toml")], site.work / "logs"
        ).start()
    else:
        site.kiosks[what] = processes.start_kiosk(site.work, site.kiosk_configs[what])


def kill(site: Site, what: str) -> None:
    if what == "broker":
        site.broker.stop(kill=True)
    elif what == "platform":
        site.platform.kill()
    elif what == "gateway":
        site.gateway.kill()
    else:
        site.kiosks[what].kill()


def freeze(site: Site, what: str, frozen: bool) -> None:
    """SIGSTOP (or SIGCONT) one part: it holds its sockets open and answers nothing."""
    if what == "broker":
        if site.broker.process is not None and site.broker.process.poll() is None:
            os.kill(site.broker.process.pid, signal.SIGSTOP if frozen else signal.SIGCONT)
        return
    proc = {"platform": site.platform, "gateway": site.gateway}.get(what) or site.kiosks[what]
    if frozen:
        proc.pause()
    else:
        proc.resume()


def chaos(site: Site, rng: random.Random, duration: float) -> None:
    """Until `duration` runs out: every 1-4 s, one fault for a while — kill -9 a part, freeze
    it with SIGSTOP, or cut or blackhole a link. The first four are one of each kind, in a
    seeded order, so every schedule has them all."""
    targets = ["broker", "platform", "gateway", *site.kiosks]
    first = rng.sample(["kill", "stop", "cut", "blackhole"], 4)
    end = time.monotonic() + duration
    while time.monotonic() < end:
        time.sleep(rng.uniform(1.0, 4.0))
        roll = rng.random()
        kind = first.pop(0) if first else (
            "kill" if roll < 0.4 else "stop" if roll < 0.6 else rng.choice(["cut", "blackhole"]))
        if kind == "kill":
            target = rng.choice(targets)
            down = rng.uniform(0.2, 3.0)
            site.note(f"kill -9 {target}, back after {down:.1f} s")
            kill(site, target)
            time.sleep(down)
            restart(site, target)
        elif kind == "stop":
            target = rng.choice(targets)
            down = rng.uniform(0.5, 8.0)  # past the MQTT keepalive at times
            site.note(f"SIGSTOP {target} for {down:.1f} s")
            freeze(site, target, True)
            time.sleep(down)
            freeze(site, target, False)
        else:
            link = rng.choice(list(site.links))
            down = rng.uniform(0.5, 6.0)
            site.note(f"{kind} {link} for {down:.1f} s")
            site.links[link].command(kind)
            time.sleep(down)
            site.links[link].command("restore")


def drain(site: Site, timeout: float) -> dict[str, tuple[int, int]]:
    """Stop the visitors (kiosks restarted with no input), wait until every outbox and the
    gateway's upload queue are empty. Returns each kiosk's (last_seq, unacknowledged)."""
    for name, cfg in site.kiosk_configs.items():
        site.kiosks[name].stop()
        cfg["input"]["rate_hz"] = 1e-6  # no more visitors: the kiosk only drains
        site.kiosks[name] = processes.start_kiosk(site.work, cfg)
    gateway_db = Path(site.gateway_config["db_path"])
    deadline = time.monotonic() + timeout
    while True:
        states = {name: outbox_state(site.work / name / "outbox.sqlite") for name in site.kiosks}
        db = sqlite3.connect(gateway_db, timeout=10)
        uploads = db.execute("SELECT count(*) FROM uploads").fetchone()[0]
        db.close()
        if all(waiting == 0 for _last, waiting in states.values()) and uploads == 0:
            return states
        if time.monotonic() > deadline:
            raise AssertionError(f"not drained: outboxes {states}, gateway uploads {uploads}")
        time.sleep(0.5)


def verify(site: Site, states: dict[str, tuple[int, int]]) -> dict:
    """Each kiosk's accepted scans (its outbox's committed rows) against the platform's
    records: each there once, nothing else there, each epoch in order."""
    report: dict = {"kiosks": {}, "problems": []}
    platform = f"http://127.0.0.1:{site.platform_port}"
    for name, (last_seq, _waiting) in states.items():
        taken = accepted(site.work / name / "outbox.sqlite")
        arrival = httpx.get(f"{platform}/sim/records", params={"kiosk": name, "order": "arrival"},
                            timeout=30).json()
        keys = [row[0] for row in arrival]
        report["kiosks"][name] = {
            "accepted": len(taken),
            "last_seq": last_seq,
            "at_platform": len(arrival),
            "posted_again": sum(row[3] - 1 for row in arrival),
        }
        missing = sorted(set(taken) - set(keys), key=lambda k: taken[k])
        extra = sorted(set(keys) - set(taken))
        if missing or extra:
            report["problems"].append(
                f"{name}: missing {[taken[k] for k in missing[:20]]} extra {extra[:20]}")
        if len(set(keys)) != len(keys):
            report["problems"].append(f"{name}: a scan stored twice at the platform")
        epochs: dict[int, list[int]] = {}
        for row in arrival:
            epochs.setdefault(row[4], []).append(row[2])
        for epoch, seqs in epochs.items():
            if seqs != sorted(seqs):
                report["problems"].append(
                    f"{name}: epoch {epoch} reached the platform out of order")
    conflicts = httpx.get(f"{platform}/sim/conflicts", timeout=30).json()
    if conflicts:
        report["problems"].append(f"(kiosk, epoch, seq) held by two scans: {conflicts[:10]}")
    for path in sqlite_files(site.work):
        result = integrity(path)
        if result != "ok":
            report["problems"].append(f"{path.name}: integrity_check {result}")
    report["sqlite_files_checked"] = len(sqlite_files(site.work))
    report["total_accepted"] = sum(k["accepted"] for k in report["kiosks"].values())
    return report


def stop_site(site: Site) -> None:
    for proc in site.kiosks.values():
        proc.stop()
    site.gateway.stop()
    site.platform.stop()
    for link in site.links.values():
        link.stop()
    site.broker.stop()


def run(work: Path, seed: int, duration: float, kiosks: int = 3, rate_hz: float = 25.0) -> dict:
    print(f"chaos seed {seed} (replay: python -m simulators.chaos --seed {seed})", flush=True)
    rng = random.Random(seed)
    if work.exists():
        shutil.rmtree(work)
    site = start_site(work, kiosks, rate_hz)
    try:
        try:
            chaos(site, rng, duration)
        finally:  # nothing left frozen or cut, whatever happened
            for target in ["broker", "platform", "gateway", *site.kiosks]:
                freeze(site, target, False)
            for link in site.links.values():
                link.command("restore")
        if not site.broker.process:
            site.broker.start()
        states = drain(site, timeout=180)
        report = verify(site, states)
    finally:
        stop_site(site)
    report.update(seed=seed, schedule=site.log)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m simulators.chaos")
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100000)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--work", type=Path, default=Path("var/chaos"))
    args = parser.parse_args()
    report = run(args.work, args.seed, args.duration)
    print("\n".join(report["schedule"]))
    print(json.dumps({k: v for k, v in report.items() if k != "schedule"}))
    return 1 if report["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
