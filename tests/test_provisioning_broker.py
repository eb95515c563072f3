"""Per-kiosk credentials against the real Mosquitto broker with its real password and ACL
files: what an enrolled kiosk may do, what the broker refuses, and that revoking cuts a
connected kiosk off at once."""

from __future__ import annotations

import queue
import socket
import ssl
import subprocess
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from cryptography import x509

from firmware import protocol
from gateway.broker import Broker, free_port
from provisioning import tls
from provisioning.broker_files import BrokerControl, verify_password
from provisioning.enrol import EnrolError, Enrolment, SiteSetup
from provisioning.registry import Registry, build_venue

SITE = "mall-1"
VENUE = "41010300000001"
NOT_AUTHORIZED = 0x87
BAD_LOGIN = (0x86, 0x87)  # Mosquitto 2.0 answers a wrong password with 0x87


def accepted(rc: int) -> bool:
    """MQTT v5 success codes are below 0x80 (0x10 = accepted, no subscribers yet)."""
    return rc < 0x80


class Probe:
    """A bare MQTT v5 client that records what the broker answers."""

    def __init__(
        self, port: int, user: str, password: str, tls_context: ssl.SSLContext | None = None
    ):
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"probe-{user}-{time.monotonic_ns()}",
            protocol=mqtt.MQTTv5,
        )  # fmt: skip
        self.client.username_pw_set(user, password)
        if tls_context is not None:
            self.client.tls_set_context(tls_context)
        self.port = port
        self.connacks: queue.Queue = queue.Queue()
        self.disconnects: queue.Queue = queue.Queue()
        self.messages: queue.Queue = queue.Queue()
        self.acks: queue.Queue = queue.Queue()
        self.client.on_connect = lambda c, u, f, rc, p: self.connacks.put(rc)
        self.client.on_disconnect = lambda c, u, f, rc, p: self.disconnects.put(rc)
        self.client.on_message = lambda c, u, m: self.messages.put((m.topic, m.payload))
        self.client.on_publish = lambda c, u, mid, rc, p: self.acks.put((mid, rc))
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self.acks.put((mid, rcs))

    def connect(self) -> mqtt.ReasonCode:
        self.client.connect("127.0.0.1", self.port, keepalive=30)
        self.client.loop_start()
        return self.connacks.get(timeout=5)

    def publish(self, topic: str, payload: bytes) -> int:
        info = self.client.publish(topic, payload, qos=1)
        mid, rc = self.acks.get(timeout=5)
        assert mid == info.mid
        return rc.value

    def subscribe(self, topic: str) -> int:
        _, mid = self.client.subscribe(topic, qos=1)
        got_mid, codes = self.acks.get(timeout=5)
        assert got_mid == mid
        return codes[0].value

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def scan(kiosk: str, seq: int = 1) -> bytes:
    msg = protocol.scan(
        protocol.EventIds().new(), kiosk, f"{VENUE}/E1", seq, protocol.now_ms(), "code", "x"
    )
    return protocol.encode(protocol.SCAN, msg)


@pytest.fixture
def site(tmp_path: Path):
    registry = Registry(tmp_path / "register.db")
    registry.put(build_venue({
        "code": VENUE, "name": "二七广场购物中心", "category": "supermarket",
        "credit_code": "914403001922038216", "address": "郑州市二七区大学路1号",
        "manager_name": "王经理", "manager_phone": "13800138000", "doors": "E1:东门;W1:西门",
    }))  # fmt: skip
    tls_port = free_port()
    setup = SiteSetup(SITE, tmp_path / "site", broker_host="127.0.0.1", broker_port=tls_port)
    enrolment = Enrolment(registry, setup)
    gateway_section = enrolment.init_site(["127.0.0.1", "localhost"])
    gateway_secret = Path(gateway_section).read_text().split('password = "')[1].split('"')[0]
    kiosk_a = enrolment.enrol(VENUE, "E1")
    kiosk_b = enrolment.enrol(VENUE, "W1")
    broker = Broker(
        tmp_path / "broker", auth_lines=enrolment.auth_lines(tls_port, "127.0.0.1")
    ).start()
    assert broker.process is not None
    enrolment.broker = BrokerControl(pid=broker.process.pid)
    probes: list[Probe] = []

    def probe(user: str, password: str, tls_context: ssl.SSLContext | None = None) -> Probe:
        p = Probe(tls_port if tls_context else broker.port, user, password, tls_context)
        probes.append(p)
        return p

    yield {
        "enrolment": enrolment, "broker": broker, "a": kiosk_a, "b": kiosk_b, "probe": probe,
        "gateway": gateway_secret, "tls_port": tls_port, "setup": setup,
    }  # fmt: skip
    for p in probes:
        p.close()
    broker.stop()
    registry.close()


def test_password_file_is_mosquitto_format_and_holds_no_secret(site) -> None:
    setup, a = site["setup"], site["a"]
    lines = dict(line.split(":", 1) for line in setup.passwd.read_text().splitlines())
    assert set(lines) == {"gateway", a.kiosk, site["b"].kiosk}
    assert lines[a.kiosk].startswith("$7$101$") and a.secret not in setup.passwd.read_text()
    assert verify_password(a.secret, lines[a.kiosk])
    # mosquitto_passwd itself accepts the file: it can add a user to it without complaint.
    copy = setup.dir / "passwd-copy"
    copy.write_text(setup.passwd.read_text())
    subprocess.run(["mosquitto_passwd", "-b", str(copy), "extra", "pw"], check=True, timeout=10)
    assert len(copy.read_text().splitlines()) == 4


def test_enrolled_kiosk_publishes_scans_for_its_own_door(site) -> None:
    a = site["a"]
    gateway = site["probe"]("gateway", site["gateway"])
    assert gateway.connect() == 0
    assert gateway.subscribe(protocol.site_filter(SITE, protocol.SCAN)) == 1
    kiosk = site["probe"](a.kiosk, a.secret)
    assert kiosk.connect() == 0
    assert kiosk.subscribe(protocol.topic(SITE, a.kiosk, protocol.VERDICT)) == 1
    payload = scan(a.kiosk)
    assert kiosk.publish(protocol.topic(SITE, a.kiosk, protocol.SCAN), payload) == 0
    topic, got = gateway.messages.get(timeout=5)
    assert (topic, got) == (protocol.topic(SITE, a.kiosk, protocol.SCAN), payload)
    # ... its backlog on its own backlog topic ...
    assert gateway.subscribe(protocol.site_filter(SITE, protocol.BACKLOG)) == 1
    old = scan(a.kiosk, seq=2)
    assert kiosk.publish(protocol.topic(SITE, a.kiosk, protocol.BACKLOG), old) == 0
    topic, got = gateway.messages.get(timeout=5)
    assert (topic, got) == (protocol.topic(SITE, a.kiosk, protocol.BACKLOG), old)
    # ... and receives the verdict the gateway sends back to it.
    verdict = protocol.encode(
        protocol.VERDICT,
        protocol.verdict(
            protocol.EventIds().new(),
            a.kiosk,
            "green",
            "open",
            "pass",
            "platform",
            protocol.now_ms(),
        ),
    )
    assert gateway.publish(protocol.topic(SITE, a.kiosk, protocol.VERDICT), verdict) == 0
    assert kiosk.messages.get(timeout=5)[1] == verdict


def test_kiosk_cannot_speak_for_or_listen_to_another_kiosk(site) -> None:
    a, b = site["a"], site["b"]
    gateway = site["probe"]("gateway", site["gateway"])
    assert gateway.connect() == 0
    assert gateway.subscribe(f"placecode/{SITE}/#") == 1
    kiosk_b = site["probe"](b.kiosk, b.secret)
    assert kiosk_b.connect() == 0
    assert kiosk_b.subscribe(protocol.topic(SITE, b.kiosk, protocol.VERDICT)) == 1
    kiosk_a = site["probe"](a.kiosk, a.secret)
    assert kiosk_a.connect() == 0
    # Publishing as kiosk B: the broker answers "not authorised" and nobody receives it.
    forged = scan(b.kiosk)
    assert kiosk_a.publish(protocol.topic(SITE, b.kiosk, protocol.SCAN), forged) == NOT_AUTHORIZED
    assert kiosk_a.publish(protocol.topic(SITE, b.kiosk, protocol.STATUS), b"{}") == NOT_AUTHORIZED
    assert kiosk_a.publish(protocol.topic(SITE, b.kiosk, protocol.BACKLOG),
                           forged) == NOT_AUTHORIZED
    # Subscribing to B's verdicts, directly or by wildcard. Mosquitto's ACL file is checked
    # per message at delivery (2.0 grants the SUBACK), so the proof is that nothing arrives.
    kiosk_a.subscribe(protocol.topic(SITE, b.kiosk, protocol.VERDICT))
    kiosk_a.subscribe(f"placecode/{SITE}/#")
    verdict = protocol.encode(
        protocol.VERDICT,
        protocol.verdict(
            protocol.EventIds().new(),
            b.kiosk,
            "green",
            "open",
            "pass",
            "platform",
            protocol.now_ms(),
        ),
    )
    assert gateway.publish(protocol.topic(SITE, b.kiosk, protocol.VERDICT), verdict) == 0
    assert kiosk_b.messages.get(timeout=5)[1] == verdict  # delivered to its owner ...
    # ... the gateway's own copy, then a marker scan from A proves the pipe is flushed.
    own = scan(a.kiosk)
    assert kiosk_a.publish(protocol.topic(SITE, a.kiosk, protocol.SCAN), own) == 0
    seen_by_gateway = [gateway.messages.get(timeout=5)[1] for _ in range(2)]
    assert forged not in seen_by_gateway and own in seen_by_gateway
    assert kiosk_a.messages.empty(), "kiosk A received another kiosk's verdict"


def test_wrong_or_unknown_credentials_are_refused(site) -> None:
    a = site["a"]
    assert site["probe"](a.kiosk, a.secret).connect() == 0
    assert site["probe"](a.kiosk, "not-the-secret").connect() in BAD_LOGIN
    assert site["probe"]("k-nobody", a.secret).connect() in BAD_LOGIN
    assert site["probe"](site["b"].kiosk, a.secret).connect() in BAD_LOGIN


def test_revoke_cuts_a_connected_kiosk_and_refuses_it_after(site) -> None:
    a, b = site["a"], site["b"]
    kiosk_a = site["probe"](a.kiosk, a.secret)
    assert kiosk_a.connect() == 0
    kiosk_b = site["probe"](b.kiosk, b.secret)
    assert kiosk_b.connect() == 0
    started = time.monotonic()
    assert site["enrolment"].revoke(a.kiosk) is True
    kiosk_a.disconnects.get(timeout=5)  # the broker hung up on it
    cut_s = time.monotonic() - started
    assert cut_s < 2
    # paho reconnects by itself: the broker must now refuse those attempts.
    assert kiosk_a.connacks.get(timeout=5) in BAD_LOGIN
    assert site["probe"](a.kiosk, a.secret).connect() in BAD_LOGIN
    # The other kiosk was not touched by the reload.
    assert kiosk_b.disconnects.empty()
    assert accepted(kiosk_b.publish(protocol.topic(SITE, b.kiosk, protocol.SCAN), scan(b.kiosk)))
    assert a.kiosk not in site["setup"].passwd.read_text()
    with pytest.raises(EnrolError):
        site["enrolment"].revoke(a.kiosk)


def _context(ca: Path, cert: Path | None = None, key: Path | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca))
    if cert:
        context.load_cert_chain(str(cert), str(key))
    return context


def test_kiosk_over_tls_connects_with_its_bundle(site) -> None:
    a = site["a"]
    context = _context(
        a.bundle_dir / "ca.pem", a.bundle_dir / "client.pem", a.bundle_dir / "client.key"
    )
    kiosk = site["probe"](a.kiosk, a.secret, context)
    assert kiosk.connect() == 0
    assert accepted(kiosk.publish(protocol.topic(SITE, a.kiosk, protocol.SCAN), scan(a.kiosk)))
    assert (
        kiosk.publish(protocol.topic(SITE, site["b"].kiosk, protocol.SCAN), b"x") == NOT_AUTHORIZED
    )


def _field(data: str | bytes) -> bytes:
    raw = data.encode() if isinstance(data, str) else data
    return len(raw).to_bytes(2, "big") + raw


def connect_packet(user: str, password: str, will: tuple[str, bytes] | None = None) -> bytes:
    """An MQTT 3.1.1 CONNECT built by hand (client id = user; will at QoS 1, retained)."""
    flags = 0xC2 | (0x2C if will else 0)  # user, password, clean session [+ will, QoS 1, retain]
    body = _field("MQTT") + bytes([4, flags]) + (30).to_bytes(2, "big") + _field(user)
    if will:
        body += _field(will[0]) + _field(will[1])
    body += _field(user) + _field(password)
    length, size = bytearray(), len(body)
    while True:  # MQTT variable-length "remaining length"
        size, digit = divmod(size, 128)
        length.append(digit | (0x80 if size else 0))
        if not size:
            return bytes([0x10]) + bytes(length) + body


def _mqtt_connect(port: int, context: ssl.SSLContext, user: str, password: str) -> bytes:
    """A TLS handshake and an MQTT CONNECT by hand, so a refusal shows its real cause."""
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as conn,
    ):
        conn.sendall(connect_packet(user, password))
        return conn.recv(4)


def test_a_kiosk_cannot_fake_another_kiosk_offline_with_its_last_will(site) -> None:
    a, b = site["a"], site["b"]
    gateway = site["probe"]("gateway", site["gateway"])
    assert gateway.connect() == 0
    assert gateway.subscribe(protocol.site_filter(SITE, protocol.STATUS)) == 1
    for owner in (b.kiosk, a.kiosk):  # forged first, then the control case with its own
        will = (protocol.topic(SITE, owner, protocol.STATUS), b"offline-from-" + owner.encode())
        with socket.create_connection(("127.0.0.1", site["broker"].port), timeout=5) as conn:
            conn.sendall(connect_packet(a.kiosk, a.secret, will))
            assert conn.recv(4) == bytes([0x20, 2, 0, 0])
        # The socket closed without DISCONNECT: the broker sends the will, if the ACL allows.
    topic, payload = gateway.messages.get(timeout=5)
    assert (topic, payload) == (protocol.topic(SITE, a.kiosk, protocol.STATUS),
                                b"offline-from-" + a.kiosk.encode())  # fmt: skip
    assert gateway.messages.empty(), "a forged will reached the gateway"


def test_tls_with_the_wrong_ca_or_no_client_certificate_cannot_connect(
    site, tmp_path: Path
) -> None:
    a, port = site["a"], site["tls_port"]
    bundle = a.bundle_dir
    right = _context(bundle / "ca.pem", bundle / "client.pem", bundle / "client.key")
    assert _mqtt_connect(port, right, a.kiosk, a.secret) == bytes([0x20, 2, 0, 0])  # CONNACK ok
    other = tmp_path / "other-site"
    tls.create_ca(other, "other")
    foreign_client = tls.issue_client(other, a.kiosk, other / "client")
    # The kiosk trusts another CA: it refuses the site broker's certificate.
    wrong_trust = _context(other / "ca.pem", bundle / "client.pem", bundle / "client.key")
    with pytest.raises(ssl.SSLCertVerificationError):
        _mqtt_connect(port, wrong_trust, a.kiosk, a.secret)
    # A client certificate from another CA, or none: the broker ends the handshake (the
    # client sees the alert, or just the connection closing) and logs why.
    foreign = _context(bundle / "ca.pem", foreign_client.cert, foreign_client.key)
    for context in (foreign, _context(bundle / "ca.pem")):
        with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
            _mqtt_connect(port, context, a.kiosk, a.secret)
    log = site["broker"].log_file.read_text()
    assert "certificate verify failed" in log
    assert "peer did not return a certificate" in log


# --- sizes, certificate identity, revocation (issue #16) -------------------------------------


def test_a_message_above_the_size_limit_is_refused_and_never_retained(site) -> None:
    from firmware.signed.signedlist import MAX_DOCUMENT

    gateway = site["probe"]("gateway", site["gateway"])
    assert gateway.connect() == 0
    lists = protocol.trust_list_topic(SITE)
    # The largest legitimate message, a signed list at its size bound, is kept.
    gateway.client.publish(lists, b"L" * MAX_DOCUMENT, qos=1, retain=True)
    assert accepted(gateway.acks.get(timeout=5)[1].value)
    a = site["a"]
    kiosk = site["probe"](a.kiosk, a.secret)
    assert kiosk.connect() == 0
    assert kiosk.subscribe(lists) == 1
    assert kiosk.messages.get(timeout=5) == (lists, b"L" * MAX_DOCUMENT)
    # 1 MiB, retained: the broker ends the connection before storing it.
    big = site["probe"](a.kiosk, a.secret)
    assert big.connect() == 0
    big.client.publish(protocol.topic(SITE, a.kiosk, protocol.STATUS), b"x" * (1 << 20), qos=1,
                       retain=True)
    big.disconnects.get(timeout=5)
    later = site["probe"]("gateway", site["gateway"])
    assert later.connect() == 0
    assert later.subscribe(protocol.topic(SITE, a.kiosk, protocol.STATUS)) == 1
    time.sleep(0.5)
    assert later.messages.empty(), "nothing of it was retained"


def test_a_kiosk_certificate_acts_only_as_its_own_kiosk(site) -> None:
    a, b = site["a"], site["b"]
    bundle = a.bundle_dir
    context = _context(bundle / "ca.pem", bundle / "client.pem", bundle / "client.key")
    # A's certificate with B's name and password: the broker takes the name from the
    # certificate, so this is kiosk A, which may not write B's topics ...
    as_b = site["probe"](b.kiosk, b.secret, context)
    assert as_b.connect() == 0
    refused = as_b.publish(protocol.topic(SITE, b.kiosk, protocol.SCAN), scan(b.kiosk))
    assert refused == NOT_AUTHORIZED
    # ... nor read B's verdicts (Mosquitto checks read access as it delivers) ...
    as_b.subscribe(protocol.topic(SITE, b.kiosk, protocol.VERDICT))
    gateway = site["probe"]("gateway", site["gateway"])
    assert gateway.connect() == 0
    assert accepted(gateway.publish(protocol.topic(SITE, b.kiosk, protocol.VERDICT), b"for B"))
    time.sleep(0.5)
    assert as_b.messages.empty()
    # ... only A's own.
    assert accepted(as_b.publish(protocol.topic(SITE, a.kiosk, protocol.SCAN), scan(a.kiosk)))


def test_a_revoked_kiosk_certificate_is_refused(site) -> None:
    a, b, port = site["a"], site["b"], site["tls_port"]
    context_a = _context(a.bundle_dir / "ca.pem", a.bundle_dir / "client.pem",
                         a.bundle_dir / "client.key")
    context_b = _context(b.bundle_dir / "ca.pem", b.bundle_dir / "client.pem",
                         b.bundle_dir / "client.key")
    assert _mqtt_connect(port, context_a, a.kiosk, a.secret) == bytes([0x20, 2, 0, 0])
    assert "certificate verify failed" not in site["broker"].log_file.read_text()
    serial = int(tls.serial_of(a.bundle_dir / "client.pem"), 16)
    assert site["enrolment"].revoke(a.kiosk) is True  # rewrites crl.pem, reloads the broker
    time.sleep(0.5)
    with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
        _mqtt_connect(port, context_a, a.kiosk, a.secret)
    deadline = time.monotonic() + 5  # the broker writes its log a moment later
    while "certificate verify failed" not in site["broker"].log_file.read_text():
        assert time.monotonic() < deadline, "the broker did not log the refusal"
        time.sleep(0.05)
    assert _mqtt_connect(port, context_b, b.kiosk, b.secret) == bytes([0x20, 2, 0, 0])
    crl = x509.load_pem_x509_crl((site["setup"].tls_dir / "crl.pem").read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(serial) is not None


def test_only_the_gateway_may_open_a_kiosks_gate(site) -> None:
    """一码一守: a gate command is authenticated by the broker. No kiosk may write one,
    not for another kiosk and not for itself; a kiosk may tap staff cards only as itself."""
    a, b = site["a"], site["b"]
    gateway = site["probe"]("gateway", site["gateway"])
    assert gateway.connect() == 0
    assert gateway.subscribe(f"placecode/{SITE}/+/{protocol.STAFF}") == 1
    kiosk_b = site["probe"](b.kiosk, b.secret)
    assert kiosk_b.connect() == 0
    assert kiosk_b.subscribe(protocol.topic(SITE, b.kiosk, protocol.GATE)) == 1
    kiosk_a = site["probe"](a.kiosk, a.secret)
    assert kiosk_a.connect() == 0

    def gate(kiosk: str) -> bytes:
        return protocol.encode(protocol.GATE, protocol.gate(
            protocol.EventIds().new(), kiosk, f"{VENUE}/W1", 3000, "emergency",
            protocol.now_ms()))

    assert kiosk_a.publish(protocol.topic(SITE, b.kiosk, protocol.GATE), gate(b.kiosk)) \
        == NOT_AUTHORIZED
    assert kiosk_b.publish(protocol.topic(SITE, b.kiosk, protocol.GATE), gate(b.kiosk)) \
        == NOT_AUTHORIZED
    assert kiosk_a.publish(protocol.topic(SITE, b.kiosk, protocol.STAFF), b"{}") \
        == NOT_AUTHORIZED
    real = gate(b.kiosk)
    assert gateway.publish(protocol.topic(SITE, b.kiosk, protocol.GATE), real) == 0
    assert kiosk_b.messages.get(timeout=5)[1] == real, "only the gateway's command arrives"
    assert kiosk_b.messages.empty()
    tap = protocol.encode(protocol.STAFF, protocol.staff(
        protocol.EventIds().new(), a.kiosk, f"{VENUE}/E1", protocol.now_ms(), "0" * 32))
    assert kiosk_a.publish(protocol.topic(SITE, a.kiosk, protocol.STAFF), tap) == 0
    assert gateway.messages.get(timeout=5)[1] == tap
