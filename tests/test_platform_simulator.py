"""The city platform simulator over real HTTP: uploads are stored once per idempotency key
in its upload process, a malformed batch is refused whole with the reason, and a kill -9
of the simulator leaves no upload process behind."""

from __future__ import annotations

import os
import time

import httpx

from simulators import processes


def record(key: str, seq: int) -> dict:
    return {"key": key, "kiosk": "k1", "seq": seq, "site": "s", "door": "d", "ts": 1,
            "method": "code", "credential": "t"}


def test_a_batch_is_stored_once_and_a_malformed_one_is_refused_whole(platform):
    batch = {"records": [record("a", 1), record("b", 2)]}
    first = httpx.post(platform + "/api/v1/records", json=batch)
    again = httpx.post(platform + "/api/v1/records", json=batch)  # a retried upload
    assert first.json() == {"accepted": 2, "duplicates": 0}
    assert again.json() == {"accepted": 0, "duplicates": 2}

    bad = httpx.post(platform + "/api/v1/records",
                     json={"records": [record("c", 3), {"key": "d", "seq": 0}]})
    assert bad.status_code == 422
    problems = {(tuple(e["loc"]), e["type"]) for e in bad.json()["detail"]}
    assert (("records", 1, "kiosk"), "missing") in problems
    assert (("records", 1, "seq"), "greater_than_equal") in problems

    stats = httpx.get(platform + "/sim/stats").json()
    assert (stats["records"], stats["deliveries"]) == (2, 4)  # c was not stored either


def children(pid: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry))
    return found


def test_kill_9_of_the_platform_takes_its_upload_process_with_it(tmp_path):
    proc, _url = processes.start_platform(tmp_path)
    helpers = children(proc.popen.pid)
    assert helpers, "the upload process runs beside the server"
    proc.kill()
    deadline = time.monotonic() + 5
    while any(os.path.exists(f"/proc/{pid}") for pid in helpers):
        assert time.monotonic() < deadline, "an upload process outlived the platform"
        time.sleep(0.05)


def test_an_upload_process_killed_alone_is_replaced_and_nothing_is_counted_twice(tmp_path):
    proc, url = processes.start_platform(tmp_path)
    try:
        batch = {"records": [record("a", 1)]}
        assert httpx.post(url + "/api/v1/records", json=batch).status_code == 200
        for helper in children(proc.popen.pid):
            os.kill(helper, 9)
        time.sleep(0.3)
        statuses = [httpx.post(url + "/api/v1/records", json=batch).status_code
                    for _ in range(3)]  # the forwarder's retries
        assert statuses[0] == 500 and statuses[-1] == 200
        stats = httpx.get(url + "/sim/stats").json()
        assert stats["records"] == 1
    finally:
        proc.stop()
