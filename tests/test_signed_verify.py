"""Signed codes judged by the kiosk: every way a code can be bad gives its own reason and
is never valid; a good code is valid in well under a millisecond of work."""

from __future__ import annotations

import zlib
from pathlib import Path

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware.signed import base45, envelope, hcert
from firmware.signed.redlist import RedList, entry_hash
from firmware.signed.trustlist import TrustedKey, TrustList
from firmware.signed.verify import REASONS, verify
from provisioning import keys
from tests.test_signed_helpers import NOW, issuer

DAY = 86400


@pytest.fixture(scope="module")
def es():
    return issuer("es")


@pytest.fixture(scope="module")
def trust(es):
    return TrustList(1, (es.trusted_key(), issuer("ps", "PS256").trusted_key()))


@pytest.fixture(scope="module")
def code(es):
    return keys.sign_code(es, keys.sample_dcc("v"), iat=NOW - DAY, exp=NOW + 10 * DAY)


def _rewrap(code: str, change) -> str:
    """Decode a code's COSE array, let `change` edit it, and re-encode it as HC1 text."""
    item = cbor2.loads(envelope.unwrap(code))
    parts = list(item.value)
    change(parts)
    return envelope.wrap(cbor2.dumps(cbor2.CBORTag(18, parts)))


def test_a_good_code_is_valid_with_its_window_and_claims(code, trust):
    result = verify(code, trust, at=NOW)
    assert (result.valid, result.reason) == (True, "ok")
    assert result.issuer == "CN"
    assert result.not_before == int(NOW - DAY) and result.not_after == int(NOW + 10 * DAY)
    assert result.claims["type"] == "v" and result.claims["dcc"]["nam"]["fn"] == "Zhang"
    assert "Zhang" not in repr(result)  # personal data stays out of logs


def test_ps256_and_kid_in_the_unprotected_header_are_accepted(trust):
    code = keys.sign_code(issuer("ps", "PS256"), keys.sample_dcc("t"), kid_protected=False)
    assert verify(code, trust).reason == "ok"


def test_forged_signature_flipped_bit(code, trust):
    def flip(parts):
        sig = bytearray(parts[3])
        sig[10] ^= 0x01
        parts[3] = bytes(sig)

    result = verify(_rewrap(code, flip), trust, at=NOW)
    assert (result.valid, result.reason) == (False, "bad_signature")
    assert result.claims is None  # unverified content is never shown


def test_forged_content_with_a_genuine_signature(code, trust):
    def extend(parts):
        claims = cbor2.loads(parts[2])
        claims[hcert.EXP] += 365 * DAY
        parts[2] = cbor2.dumps(claims)

    assert verify(_rewrap(code, extend), trust, at=NOW).reason == "bad_signature"


def test_forger_reusing_a_trusted_kid_with_own_key(es, trust):
    forger = keys.new_private_key("ES256")
    payload = cbor2.dumps(
        {hcert.IAT: int(NOW), hcert.EXP: int(NOW + DAY), hcert.HCERT: {1: keys.sample_dcc()}}
    )
    forged = envelope.wrap(keys.sign_cose(forger, es.kid, payload))
    assert verify(forged, trust, at=NOW).reason == "bad_signature"


def test_unknown_issuer(trust):
    stranger = keys.new_issuer("CN")
    result = verify(keys.sign_code(stranger), trust)
    assert (result.valid, result.reason) == (False, "unknown_issuer")
    assert result.kid == stranger.kid.hex()


def test_valid_through_the_exp_second_expired_after_it(code, trust):
    exp = int(NOW + 10 * DAY)
    assert verify(code, trust, at=exp - 1).valid
    assert verify(code, trust, at=exp).valid  # exp is the last valid second
    result = verify(code, trust, at=exp + 0.001)
    assert (result.valid, result.reason) == (False, "expired")
    assert result.not_after == exp


def test_not_yet_valid_beyond_clock_leeway(es, trust):
    code = keys.sign_code(es, iat=NOW + 3600, exp=NOW + 10 * DAY)
    assert verify(code, trust, at=NOW).reason == "not_yet_valid"
    assert verify(code, trust, at=NOW + 3600 - 299).valid  # 5 minutes of clock skew allowed
    nbf = keys.sign_code(es, iat=NOW - DAY, nbf=NOW + DAY, exp=NOW + 10 * DAY)
    assert verify(nbf, trust, at=NOW).reason == "not_yet_valid"


@pytest.mark.parametrize("cut", [1, 2, 3, 7, 50, 200, -1])
def test_truncated_code_is_corrupted(code, trust, cut):
    short = code[:cut] if cut < 0 else code[: len(code) - cut]
    result = verify(short, trust, at=NOW)
    assert not result.valid
    assert result.reason in ("corrupted", "not_signed_code")


def test_every_single_character_change_is_refused(code, trust):
    alphabet = base45.ALPHABET
    reasons = set()
    for pos in range(4, len(code), 3):
        replacement = alphabet[(alphabet.index(code[pos]) + 7) % 45]
        result = verify(code[:pos] + replacement + code[pos + 1 :], trust, at=NOW)
        assert not result.valid, pos
        reasons.add(result.reason)
    assert reasons <= {"corrupted", "bad_signature", "unknown_issuer", "no_kid"}
    assert "corrupted" in reasons


def test_corrupted_layers_each_say_corrupted(code, trust):
    raw = envelope.unwrap(code)
    cases = {
        "bad base45 char": "HC1:" + code[4:20] + "a" + code[21:],
        "not zlib": "HC1:" + base45.encode(b"\x78\x9c" + b"garbage"),
        "trailing bytes": envelope.wrap(raw + b"\x00"),
        "not COSE": envelope.wrap(cbor2.dumps({"hello": 1})),
        "zip bomb": "HC1:" + base45.encode(zlib.compress(b"\x00" * 2_000_000)),
        "wrong tag": envelope.wrap(cbor2.dumps(cbor2.CBORTag(98, list(cbor2.loads(raw).value)))),
    }
    for name, text in cases.items():
        result = verify(text, trust, at=NOW)
        assert (result.valid, result.reason) == (False, "corrupted"), name


def test_no_prefix_and_no_trust_list(code):
    assert verify(code[4:], None).reason == "not_signed_code"
    assert verify("https://example.cn/hc?t=abc", None).reason == "not_signed_code"
    assert verify(code, None).reason == "no_trust_list"


def test_unsupported_algorithm_and_missing_kid(es, trust):
    payload = cbor2.dumps({hcert.IAT: int(NOW), hcert.EXP: int(NOW + DAY)})
    es384 = cbor2.dumps(
        cbor2.CBORTag(18, [cbor2.dumps({1: -35, 4: es.kid}), {}, payload, b"x" * 96])
    )
    assert verify(envelope.wrap(es384), trust).reason == "unsupported_algorithm"
    no_kid = cbor2.dumps(cbor2.CBORTag(18, [cbor2.dumps({1: -7}), {}, payload, b"x" * 64]))
    assert verify(envelope.wrap(no_kid), trust).reason == "no_kid"


def test_alg_only_in_unprotected_header_is_refused(es, trust):
    payload = cbor2.dumps({hcert.IAT: int(NOW), hcert.EXP: int(NOW + DAY)})
    text = envelope.wrap(
        cbor2.dumps(cbor2.CBORTag(18, [cbor2.dumps({4: es.kid}), {1: -7}, payload, b"x" * 64]))
    )
    assert verify(text, trust).reason == "unsupported_algorithm"


@pytest.mark.parametrize(
    "claims",
    [
        {hcert.IAT: "2021-01-01", hcert.EXP: 2_000_000_000},  # iat as text
        {hcert.IAT: 1_600_000_000, hcert.EXP: True},  # bool is not a date
        {hcert.IAT: 1_600_000_000, hcert.EXP: 1_500_000_000},  # exp before iat
        {hcert.IAT: 1_600_000_000, hcert.EXP: 2_000_000_000},  # no hcert
        {hcert.IAT: 1_600_000_000, hcert.EXP: 2_000_000_000, hcert.HCERT: {1: {"ver": "1"}}},
        {hcert.IAT: 1_600_000_000, hcert.EXP: 2_000_000_000, hcert.ISS: b"CN"},
    ],
)
def test_signed_but_malformed_claims(es, trust, claims):
    text = envelope.wrap(keys.sign_cose(es.private_key, es.kid, cbor2.dumps(claims)))
    result = verify(text, trust, at=1_700_000_000)
    assert (result.valid, result.reason) == (False, "bad_claims")


def _cbor_map(pairs: list[tuple]) -> bytes:
    """A CBOR map written pair by pair, so a key can appear twice."""
    assert len(pairs) < 24
    return bytes([0xA0 | len(pairs)]) + b"".join(cbor2.dumps(k) + cbor2.dumps(v) for k, v in pairs)


def test_a_repeated_map_key_is_refused_not_last_one_wins(es, trust):
    dcc = {hcert.DCC_V1: keys.sample_dcc("v")}
    now = int(NOW)
    good = [(hcert.IAT, now - DAY), (hcert.EXP, now + DAY), (hcert.HCERT, dcc)]
    sign = lambda payload: envelope.wrap(keys.sign_cose(es.private_key, es.kid, payload))  # noqa: E731
    assert verify(sign(_cbor_map(good)), trust, at=now).valid
    # exp said twice: an expired code must not be revived by a later, longer exp
    twice = [(hcert.IAT, now - 9 * DAY), (hcert.EXP, now - DAY), (hcert.HCERT, dcc),
             (hcert.EXP, now + 9 * DAY)]
    assert (verify(sign(_cbor_map(twice)), trust, at=now).reason) == "bad_claims"
    # ... nor a person's name by a second one deeper down
    nested = cbor2.dumps(keys.sample_dcc("v"))
    assert nested[0] == 0xA4  # ver, nam, dob, v
    repeated = bytes([0xA5]) + nested[1:] + cbor2.dumps("dob") + cbor2.dumps("2000-01-01")
    claims = _cbor_map([(hcert.IAT, now - DAY), (hcert.EXP, now + DAY)])
    payload = bytes([claims[0] + 1]) + claims[1:] + cbor2.dumps(hcert.HCERT) \
        + bytes([0xA1]) + cbor2.dumps(hcert.DCC_V1) + repeated
    assert verify(sign(payload), trust, at=now).reason == "bad_claims"


def test_dcc_with_two_certificate_types_or_bytes_is_bad_claims(es, trust):
    both = keys.sample_dcc("v")
    both["t"] = keys.sample_dcc("t")["t"]
    odd = keys.sample_dcc("v")
    odd["nam"]["fn"] = b"\x00bytes"
    for dcc in (both, odd):
        assert verify(keys.sign_code(es, dcc), trust).reason == "bad_claims"


def test_key_allowed_only_for_tests_refuses_a_vaccination_code():
    tests_only = issuer("tests-only", usage=("t",))
    trust = TrustList(1, (tests_only.trusted_key(),))
    assert verify(keys.sign_code(tests_only, keys.sample_dcc("t")), trust).valid
    result = verify(keys.sign_code(tests_only, keys.sample_dcc("v")), trust)
    assert (result.valid, result.reason) == (False, "wrong_key_usage")
    assert "may sign t, not v" in result.detail


def test_code_signed_before_the_key_was_valid_is_wrong_key_usage(es):
    listed = es.trusted_key()
    late = TrustedKey(listed.kid, listed.key, "CN", listed.usage, int(NOW), None, "late")
    result = verify(keys.sign_code(es, iat=NOW - DAY), TrustList(1, (late,)), at=NOW)
    assert result.reason == "wrong_key_usage"


def test_iss_of_another_country_than_the_key_is_wrong_key_usage(es, trust):
    assert verify(keys.sign_code(es, iss="FR"), trust).reason == "wrong_key_usage"


def test_duplicated_kid_tries_every_key(es, code):
    listed = es.trusted_key()
    impostor = TrustedKey(listed.kid, keys.new_private_key().public_key(), "CN")
    trust = TrustList(1, (impostor, listed))
    assert verify(code, trust, at=NOW).valid
    only_impostor = TrustList(1, (impostor,))
    assert verify(code, only_impostor, at=NOW).reason == "bad_signature"


def test_red_listed_by_certificate_id_or_by_signature(es, trust):
    dcc = keys.sample_dcc("v")
    code = keys.sign_code(es, dcc)
    uvci = dcc["v"][0]["ci"]
    salt = b"s" * 16
    by_uvci = RedList(1, salt, frozenset({entry_hash(salt, "uvci", uvci.lower())}))
    assert verify(code, trust, red_list=by_uvci).reason == "red_listed"
    signature = cbor2.loads(envelope.unwrap(code)).value[3]
    by_sig = RedList(1, salt, frozenset({entry_hash(salt, "sig", signature.hex())}))
    assert verify(code, trust, red_list=by_sig).reason == "red_listed"
    other = RedList(1, salt, frozenset({entry_hash(salt, "uvci", "URN:UVCI:01:CN:OTHER")}))
    assert verify(code, trust, red_list=other).valid


def test_reasons_are_all_documented():
    doc = Path("docs/signed-codes.md").read_text(encoding="utf-8")
    for reason in REASONS:
        assert f"`{reason}`" in doc, reason


def test_only_a_valid_code_opens_the_door(code, trust):
    from firmware.signed.verify import Result
    from firmware.verdict import PROMPT_TEXT, for_signed_code

    def judged(result: Result) -> tuple[str, str, str]:
        return for_signed_code("e", result.valid, result.reason).fields()[:3]

    assert judged(verify(code, trust, at=NOW)) == ("green", "open", "pass")
    for reason in REASONS[1:]:
        colour, action, prompt = judged(Result(False, reason))
        assert action != "open" and colour != "green", reason
        assert prompt in PROMPT_TEXT
    assert judged(Result(False, "red_listed")) == ("red", "refuse", "no_entry")
    assert judged(Result(False, "expired"))[1:] == ("hold", "manual_check")


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.one_of(st.binary(max_size=400), st.text(max_size=200)))
def test_no_input_raises_or_passes(trust, data):
    text = envelope.wrap(data) if isinstance(data, bytes) else "HC1:" + data
    result = verify(text, trust)
    assert not result.valid and result.reason in REASONS


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.recursive(
        st.integers() | st.text(max_size=5) | st.binary(max_size=5),
        lambda c: (
            st.lists(c, max_size=4)
            | st.dictionaries(st.integers(-300, 10) | st.text(max_size=3), c, max_size=4)
        ),
        max_leaves=12,
    )
)
def test_any_signed_cbor_payload_is_judged_without_crashing(es, trust, payload):
    text = envelope.wrap(keys.sign_cose(es.private_key, es.kid, cbor2.dumps(payload)))
    result = verify(text, trust)
    assert result.reason in REASONS and not result.valid
