"""Trust and red lists on the kiosk: only a newer list signed by the site root is taken,
it survives a restart, and nothing an attacker or a stale broker replays replaces it."""

from __future__ import annotations

import asyncio
import json

import aiomqtt
import pytest

from firmware.kiosk.signed_lists import KioskLists, load_root_keys
from firmware.protocol import red_list_topic, trust_list_topic
from firmware.signed import cose
from firmware.signed.signedlist import key_id
from firmware.signed.trustlist import TrustList, store
from firmware.signed.verify import verify
from gateway.broker import Broker
from provisioning import keys
from tests.test_signed_helpers import NOW, issuer, root

SITE = "demo"


@pytest.fixture()
def roots():
    return [root().public_key()]


def _list(version: int, *issuers, site: str = SITE, signer=None) -> bytes:
    return keys.sign_trust_list(signer or root(), site, version, issuers, issued=NOW - 60)


def test_a_signed_newer_list_is_taken_and_kept_across_restart(tmp_path, roots):
    path = tmp_path / "trust-list.cose"
    kiosk = store(path, roots, SITE)
    assert kiosk.current is None
    offer = kiosk.offer(_list(2, issuer("es")))
    assert (offer.accepted, offer.reason, offer.version) == (True, "accepted", 2)
    code = keys.sign_code(issuer("es"))
    assert verify(code, kiosk.current).valid

    restarted = store(path, roots, SITE)
    assert restarted.header.version == 2 and restarted.load_error is None
    assert verify(code, restarted.current).valid
    assert restarted.age_s(NOW) == pytest.approx(60, abs=1)


def test_an_old_list_replayed_is_refused_even_after_restart(tmp_path, roots):
    path = tmp_path / "trust-list.cose"
    old = _list(1, issuer("es"))  # still trusted the key that v2 dropped
    kiosk = store(path, roots, SITE)
    assert kiosk.offer(old).accepted
    assert kiosk.offer(_list(2, issuer("ps", "PS256"))).accepted
    assert (kiosk.offer(old).reason, kiosk.header.version) == ("older_version", 2)

    restarted = store(path, roots, SITE)
    offer = restarted.offer(old)
    assert (offer.accepted, offer.reason) == (False, "older_version")
    assert verify(keys.sign_code(issuer("es")), restarted.current).reason == "unknown_issuer"
    assert restarted.rejected == {"older_version": 1}


def test_an_unsigned_list_is_refused(tmp_path, roots):
    kiosk = store(tmp_path / "t.cose", roots, SITE)
    body = TrustList(9, (issuer("es").trusted_key(),), SITE, int(NOW)).body()
    offer = kiosk.offer(json.dumps(body).encode())
    assert (offer.accepted, offer.reason) == (False, "unsigned")
    assert kiosk.offer(b"\x00garbage").reason == "unsigned"
    assert kiosk.current is None and not (tmp_path / "t.cose").exists()


def test_badly_signed_or_foreign_lists_are_refused(tmp_path, roots):
    kiosk = store(tmp_path / "t.cose", roots, SITE)
    assert kiosk.offer(_list(1, issuer("es"))).accepted
    good = _list(5, issuer("es"))
    tampered = bytearray(good)
    tampered[-5] ^= 0xFF  # inside the signature
    assert kiosk.offer(bytes(tampered)).reason == "bad_signature"
    stranger = keys.new_private_key()
    assert kiosk.offer(_list(6, issuer("es"), signer=stranger)).reason == "unknown_signer"
    # a forger who knows the root kid but not the key
    body = TrustList(7, (), SITE, int(NOW)).body()
    payload = json.dumps(body).encode()
    forged = cose.encode_sign1(cose.ES256, key_id(roots[0]), payload, b"\x01" * 64)
    assert kiosk.offer(forged).reason == "bad_signature"
    assert kiosk.offer(_list(8, issuer("es"), site="other")).reason == "wrong_site"
    assert kiosk.header.version == 1


def test_same_version_is_idempotent_but_a_reused_version_is_refused(tmp_path, roots):
    kiosk = store(tmp_path / "t.cose", roots, SITE)
    v3 = _list(3, issuer("es"))
    assert kiosk.offer(v3).accepted
    assert kiosk.offer(v3).reason == "same_version"  # the retained copy arriving again
    assert kiosk.offer(_list(3, issuer("ps", "PS256"))).reason == "version_reused"


def test_a_file_edited_on_disk_is_not_trusted_at_start(tmp_path, roots):
    path = tmp_path / "t.cose"
    assert store(path, roots, SITE).offer(_list(4, issuer("es"))).accepted
    raw = bytearray(path.read_bytes())
    raw[-3] ^= 0x01
    path.write_bytes(bytes(raw))
    restarted = store(path, roots, SITE)
    assert restarted.current is None and restarted.load_error == "bad_signature"
    assert restarted.offer(_list(4, issuer("es"))).accepted  # recovers from the gateway


def test_red_list_hashes_identifiers_and_obeys_the_same_rules(tmp_path, roots):
    lists = KioskLists(tmp_path, roots, SITE)
    doc = keys.sign_red_list(
        root(), SITE, 2, [("id", "11010519491231002x"), ("uvci", "URN:UVCI:01:CN:ABC")]
    )
    assert b"11010519491231002" not in doc  # never in clear on the wire
    assert lists.handle(red_list_topic(SITE), doc).accepted
    red = lists.red.current
    assert red.contains("id", "11010519491231002X")  # normalised: check digit X in any case
    assert red.contains("uvci", "urn:uvci:01:cn:abc")
    assert not red.contains("id", "110105194912310038")
    old = keys.sign_red_list(root(), SITE, 1, [])
    assert lists.handle(red_list_topic(SITE), old).reason == "older_version"
    status = lists.status(NOW)
    assert status["red_list"]["version"] == 2 and status["trust_list"]["version"] is None
    assert status["red_list"]["rejected"] == {"older_version": 1}


def test_root_keys_file_with_two_keys_for_rotation(tmp_path):
    new_root = keys.new_private_key()
    pem = tmp_path / "roots.pem"
    pem.write_bytes(keys.public_pem(root()) + keys.public_pem(new_root))
    roots = load_root_keys(pem)
    kiosk = store(tmp_path / "t.cose", roots, SITE)
    assert kiosk.offer(_list(1, issuer("es"))).accepted
    assert kiosk.offer(_list(2, issuer("es"), signer=new_root)).accepted


async def _receive_retained(port: int, lists: KioskLists, expect: int) -> list:
    offers = []
    async with aiomqtt.Client("127.0.0.1", port, identifier="kiosk-test") as client:
        for t in lists.topics():
            await client.subscribe(t, qos=1)
        async with asyncio.timeout(5):
            async for message in client.messages:
                offers.append(lists.handle(str(message.topic), bytes(message.payload)))
                if len(offers) == expect:
                    break
    return offers


async def test_lists_arrive_as_retained_mqtt_messages_over_a_real_broker(tmp_path, roots):
    with Broker(tmp_path / "broker") as broker:
        async with aiomqtt.Client("127.0.0.1", broker.port, identifier="gateway-test") as gw:
            await gw.publish(trust_list_topic(SITE), _list(2, issuer("es")), qos=1, retain=True)
            await gw.publish(
                red_list_topic(SITE), keys.sign_red_list(root(), SITE, 1, []), qos=1, retain=True
            )
        kiosk_dir = tmp_path / "kiosk"
        offers = await _receive_retained(broker.port, KioskLists(kiosk_dir, roots, SITE), 2)
        assert sorted(o.reason for o in offers) == ["accepted", "accepted"]

        # someone with broker access replaces the retained list with an old one
        async with aiomqtt.Client("127.0.0.1", broker.port, identifier="attacker") as bad:
            await bad.publish(
                trust_list_topic(SITE), _list(1, issuer("ps", "PS256")), qos=1, retain=True
            )
        restarted = KioskLists(kiosk_dir, roots, SITE)
        offers = await _receive_retained(broker.port, restarted, 2)
        assert sorted(o.reason for o in offers) == ["older_version", "same_version"]
        assert restarted.trust.header.version == 2
        assert verify(keys.sign_code(issuer("es")), restarted.trust.current).valid
