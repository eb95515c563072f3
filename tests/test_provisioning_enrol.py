"""Kiosk enrolment: the SD-card bundle is a config the kiosk firmware loads and uses to
reach the real broker over TLS; one-time enrolment codes work once, and only in time."""

from __future__ import annotations

import asyncio
import os
import stat
import tarfile
from pathlib import Path

import aiomqtt
import pytest

from firmware import mqtt_client, protocol
from firmware.kiosk import config as kiosk_config
from gateway.broker import Broker, free_port
from provisioning.broker_files import BrokerControl
from provisioning.enrol import EnrolError, Enrolment, SiteSetup, bundle_bytes, unpack
from provisioning.registry import Registry, build_venue

SITE = "market-2"
VENUE = "41010300000007"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def site(tmp_path: Path):
    registry = Registry(tmp_path / "register.db")
    registry.put(build_venue({
        "code": VENUE, "name": "大学路农贸市场", "category": "farmers_market",
        "credit_code": "91330100799655058B", "address": "郑州市二七区大学路7号",
        "manager_name": "赵", "manager_phone": "0371-66881234", "doors": "A:北门;B:南门",
    }))  # fmt: skip
    port = free_port()
    # The bundle's files are referenced where the kiosk will find them: here, the bundle.
    setup = SiteSetup(SITE, tmp_path / "site", broker_host="127.0.0.1", broker_port=port,
                      install_dir=str(tmp_path / "site" / "bundles" / "KIOSK"),
                      data_dir=str(tmp_path / "kiosk-data"))  # fmt: skip
    clock = Clock()
    enrolment = Enrolment(registry, setup, clock=clock)
    section = Path(enrolment.init_site(["127.0.0.1"]))
    broker = Broker(
        tmp_path / "broker", auth_lines=enrolment.auth_lines(port, "127.0.0.1")
    ).start()
    assert broker.process is not None
    enrolment.broker = BrokerControl(pid=broker.process.pid)
    gateway_password = section.read_text().split('password = "')[1].split('"')[0]
    yield enrolment, broker, clock, gateway_password
    broker.stop()
    registry.close()


def load_config(enrolment: Enrolment, kiosk: str) -> kiosk_config.KioskConfig:
    path = enrolment.site.bundles / kiosk / "kiosk.toml"
    text = path.read_text().replace("/bundles/KIOSK", f"/bundles/{kiosk}")
    path.write_text(text)
    return kiosk_config.load(path)


async def kiosk_publishes_a_scan(
    enrolment: Enrolment, broker: Broker, gateway_password: str, kiosk: str
) -> dict:
    """The kiosk firmware's own connection code, from the bundle's config, over TLS."""
    cfg = load_config(enrolment, kiosk)
    gateway = mqtt_client.BrokerAddress(
        port=broker.port, username="gateway", password=gateway_password
    )
    async with mqtt_client.client(gateway, "gateway-test", persistent=False) as gw:
        await gw.subscribe(protocol.site_filter(SITE, protocol.SCAN), qos=1)
        address = mqtt_client.BrokerAddress(**cfg.broker.model_dump())
        msg = protocol.scan(
            protocol.EventIds().new(), cfg.kiosk, cfg.door, 1, protocol.now_ms(), "code", "t"
        )
        # Mosquitto applies a reload on its next loop tick (~0.1 s): a kiosk connecting
        # within that window is refused once and retries, as the kiosk's link does.
        for attempt in range(20):
            try:
                async with mqtt_client.client(address, f"kiosk-{SITE}-{kiosk}") as client:
                    await client.publish(protocol.topic(cfg.site, cfg.kiosk, protocol.SCAN),
                                         protocol.encode(protocol.SCAN, msg), qos=1)  # fmt: skip
                break
            except aiomqtt.MqttError:
                if attempt == 19:
                    raise
                await asyncio.sleep(0.1)
        async with asyncio.timeout(5):
            async for message in gw.messages:
                return protocol.decode(str(message.topic), message.payload)[3]
    raise AssertionError("no scan")  # pragma: no cover


async def test_bundle_config_loads_in_the_kiosk_and_connects_over_tls(site) -> None:
    enrolment, broker, _, gateway_password = site
    identity = enrolment.enrol(VENUE, "A")
    cfg = load_config(enrolment, identity.kiosk)
    assert (cfg.site, cfg.kiosk, cfg.door) == (SITE, identity.kiosk, f"{VENUE}/A")
    assert cfg.broker.port != broker.port and cfg.broker.ca_file and cfg.broker.cert_file
    got = await kiosk_publishes_a_scan(enrolment, broker, gateway_password, identity.kiosk)
    assert (got["kiosk"], got["door"]) == (identity.kiosk, f"{VENUE}/A")


def test_bundle_folder_and_tarball_hold_what_the_sd_card_needs(site, tmp_path: Path) -> None:
    enrolment = site[0]
    identity = enrolment.enrol(VENUE, "B")
    names = sorted(p.name for p in identity.bundle_dir.iterdir())
    assert names == ["README.txt", "ca.pem", "client.key", "client.pem", "kiosk.toml"]
    for secret in ("client.key", "kiosk.toml"):
        assert stat.S_IMODE(os.stat(identity.bundle_dir / secret).st_mode) == 0o600
    assert identity.secret in (identity.bundle_dir / "kiosk.toml").read_text()
    assert b"PRIVATE KEY" not in (identity.bundle_dir / "ca.pem").read_bytes()
    with tarfile.open(identity.tarball) as tar:
        members = tar.getnames()
    assert "placecode/kiosk.toml" in members and not any("ca.key" in n for n in members)
    unpacked = unpack(bundle_bytes(identity), tmp_path / "sd")
    assert (unpacked / "kiosk.toml").read_text() == (
        identity.bundle_dir / "kiosk.toml"
    ).read_text()
    assert "SD" in (unpacked / "README.txt").read_text()
    # The register keeps only the hash.
    stored = enrolment.db.execute("SELECT password_hash FROM broker_users WHERE username = ?",
                                  (identity.kiosk,)).fetchone()[0]  # fmt: skip
    assert identity.secret not in stored and stored.startswith("$7$")


def test_each_kiosk_of_a_door_gets_its_own_name_never_reused(site) -> None:
    enrolment = site[0]
    first = enrolment.enrol(VENUE, "A")
    enrolment.revoke(first.kiosk)
    second = enrolment.enrol(VENUE, "A")
    assert first.kiosk != second.kiosk and second.kiosk.endswith("-2")
    assert not first.bundle_dir.exists() and not first.tarball.exists()
    with pytest.raises(EnrolError, match="not registered"):
        enrolment.enrol(VENUE, "Z")


async def test_enrolment_code_works_once_and_gives_a_working_identity(site) -> None:
    enrolment, broker, _, gateway_password = site
    code = enrolment.issue_code(VENUE, "B")
    assert len(code) == 9 and code[4] == "-"
    typed = code.lower().replace("0", "o")  # read aloud, typed with O for 0: still good
    identity = enrolment.redeem(typed)
    assert identity.door == "B"
    got = await kiosk_publishes_a_scan(enrolment, broker, gateway_password, identity.kiosk)
    assert got["door"] == f"{VENUE}/B"
    with pytest.raises(EnrolError, match="unknown, used or expired"):
        enrolment.redeem(code)
    with pytest.raises(EnrolError, match="unknown, used or expired"):
        enrolment.redeem("ZZZZ-ZZZZ")


def test_enrolment_code_expires(site) -> None:
    enrolment, _, clock, _ = site
    code = enrolment.issue_code(VENUE, "A", ttl_s=600)
    clock.now += 601
    with pytest.raises(EnrolError, match="unknown, used or expired"):
        enrolment.redeem(code)
    assert enrolment.kiosks() == []


def test_two_sites_in_one_register_have_separate_broker_files(site, tmp_path: Path) -> None:
    enrolment = site[0]
    mine = enrolment.enrol(VENUE, "A")
    other = Enrolment(enrolment.registry, SiteSetup("other-site", tmp_path / "other", tls=False))
    other.init_site(["127.0.0.1"])
    theirs = other.enrol(VENUE, "B")
    mine_users = enrolment.site.passwd.read_text()
    their_users = other.site.passwd.read_text()
    assert mine.kiosk in mine_users and theirs.kiosk not in mine_users
    assert theirs.kiosk in their_users and mine.kiosk not in their_users
    assert "gateway:" in mine_users and "gateway:" in their_users
    assert "topic readwrite placecode/other-site/#" in other.site.acl.read_text()
    assert "other-site" not in enrolment.site.acl.read_text()
