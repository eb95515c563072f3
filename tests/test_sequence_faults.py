"""A kiosk's numbering broken is an alert on the console, found from what the gateway has
stored, so a restart between the two scans forgets nothing.

Real parts: Mosquitto, the gateway process (killed with -9 and started again between the
scans), the platform simulator. The kiosk is one from before epochs (epoch 0), spoken for
with a plain MQTT client: it numbers a scan below what the platform already has (`late`),
and reuses a number another scan holds (`reused`). Both scans are kept and uploaded.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from firmware import mqtt_client, protocol
from gateway import users
from simulators import processes
from tests.conftest import SITE, TEST_USERS, get_json, poll

KIOSK = "legacy-1"


async def send(port: int, ids: protocol.EventIds, seqs: list[int]) -> list[str]:
    sent = []
    address = mqtt_client.BrokerAddress(port=port)
    async with mqtt_client.client(address, "probe", persistent=False) as mqtt:
        for seq in seqs:
            msg = protocol.scan(ids.new(), KIOSK, "door-1", seq, protocol.now_ms(), "code",
                                f"token-{seq}-{len(sent)}")
            msg["replay"] = True
            await mqtt.publish(protocol.topic(SITE, KIOSK, protocol.SCAN),
                               protocol.encode(protocol.SCAN, msg), qos=1)
            sent.append(msg["id"])
    return sent


async def test_a_reused_or_late_number_is_alerted_across_a_gateway_restart(
        tmp_path: Path, broker, platform):
    cfg = processes.gateway_config(tmp_path, SITE, broker.port, platform, upload_hold_s=0)
    for role, (name, password) in TEST_USERS.items():
        users.add_user(Path(cfg["db_path"]), name, role, password)
    gateway, url = processes.start_gateway(tmp_path, cfg)
    try:
        ids = protocol.EventIds()
        first = await send(broker.port, ids, [1, 3])  # 2 missing: 3 goes up after no hold

        async def at_platform(n: int):
            async def check():
                rows = await get_json(platform + f"/sim/records?kiosk={KIOSK}&order=arrival")
                return rows if len(rows) >= n else None
            return check

        await poll(await at_platform(2), 20)
        gateway.kill()
        gateway, url = processes.start_gateway(tmp_path, cfg)

        late, reused = await send(broker.port, ids, [2, 3])

        async def alerted():
            alerts = await get_json(url + "/api/alerts")
            found = {a["action"]: a for a in alerts if a["kind"] == "sequence_fault"}
            return found if len(found) == 2 else None

        found = await poll(alerted, 20)
        assert found["late"]["key"] == f"seq:{late}" and found["late"]["masked"] == "seq 2"
        assert found["reused"]["key"] == f"seq:{reused}" and found["reused"]["kiosk"] == KIOSK
        summary = await get_json(url + "/api/summary")
        assert summary["sequence_faults"] == {"late": 1, "reused": 1}
        async with httpx.AsyncClient(timeout=5) as http:  # loopback: no token needed
            metrics = (await http.get(url + "/metrics")).text
        assert 'placecode_sequence_faults_total{kind="reused"} 1.0' in metrics, metrics[-2000:]

        rows = await poll(await at_platform(4), 20)
        assert {r[0] for r in rows} == {*first, late, reused}, "nothing dropped"
        conflicts = await get_json(platform + "/sim/conflicts")
        assert [(*c[:3], sorted(c[3])) for c in conflicts] == [
            (KIOSK, 0, 3, sorted([first[1], reused]))], "the platform's check sees the reuse too"
    finally:
        gateway.stop()
