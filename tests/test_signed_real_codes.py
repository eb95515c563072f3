"""What real issuers sign: liberal in encodings and schema versions the specifications allow
(float NumericDates, tagged dates, older DCC layouts, BER signer certificates), strict about
signatures, keys, key usage and validity; never a traceback, always a verdict and a reason.
Every code here is built with the project's own key tools (provisioning/keys.py)."""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from pathlib import Path

import cbor2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware.kiosk import check_code
from firmware.signed import der, envelope, hcert, trustlist
from firmware.signed.cbor import CborError, loads_exact
from firmware.signed.trustlist import TrustList
from firmware.signed.verify import REASONS, verify
from provisioning import keys
from tests.test_signed_helpers import NOW, issuer

DAY = 86400


@pytest.fixture(scope="module")
def es():
    return issuer("es")


@pytest.fixture(scope="module")
def trust(es):
    return TrustList(1, (es.trusted_key(),))


def _signed(es, claims_bytes: bytes) -> str:
    return envelope.wrap(keys.sign_cose(es.private_key, es.kid, claims_bytes))


def _claims(dcc=None, iat=None, exp=None) -> dict:
    return {
        hcert.ISS: "CN",
        hcert.IAT: int(NOW - DAY) if iat is None else iat,
        hcert.EXP: int(NOW + 10 * DAY) if exp is None else exp,
        hcert.HCERT: {hcert.DCC_V1: dcc if dcc is not None else keys.sample_dcc("v")},
    }


# --- NumericDates ---------------------------------------------------------------------


def test_float_numeric_dates_are_accepted_as_sent(es, trust):
    iat, exp = NOW - DAY + 0.25, NOW + 10 * DAY + 0.5
    code = keys.sign_code(es, iat=iat, exp=exp, float_times=True)
    result = verify(code, trust, at=NOW)
    assert (result.valid, result.reason) == (True, "ok")
    assert result.not_after == pytest.approx(exp) and isinstance(result.not_after, float)
    assert verify(code, trust, at=exp).valid  # inclusive, to the fraction
    assert verify(code, trust, at=exp + 0.01).reason == "expired"


def test_integral_float_dates_come_out_as_integers(es, trust):
    code = keys.sign_code(
        es, iat=float(int(NOW - DAY)), exp=float(int(NOW + DAY)), float_times=True
    )
    result = verify(code, trust, at=NOW)
    assert result.valid and isinstance(result.not_after, int)


def test_tag_1_epoch_date_time_as_numeric_date(es, trust):
    claims = _claims()
    claims[hcert.EXP] = cbor2.CBORTag(1, NOW + 10 * DAY)
    claims[hcert.IAT] = cbor2.CBORTag(1, int(NOW - DAY))
    result = verify(_signed(es, cbor2.dumps(claims)), trust, at=NOW)
    assert (result.valid, result.reason) == (True, "ok")
    assert result.not_after == pytest.approx(NOW + 10 * DAY)


@pytest.mark.parametrize(
    "exp", [float("nan"), float("inf"), -1.0, -5, 2.0**60, 10**30, "2030-01-01", True, b"\x01"]
)
def test_numeric_dates_that_are_not_dates_are_bad_claims(es, trust, exp):
    result = verify(_signed(es, cbor2.dumps(_claims(exp=exp))), trust, at=NOW)
    assert (result.valid, result.reason) == (False, "bad_claims")


def test_valid_at_exactly_the_exp_second(es, trust):
    exp = int(NOW + DAY)
    code = keys.sign_code(es, iat=NOW - DAY, exp=exp)
    assert verify(code, trust, at=exp).reason == "ok"
    assert verify(code, trust, at=exp + 1).reason == "expired"


# --- tagged dates inside the certificate ----------------------------------------------


def test_tagged_dates_inside_the_payload_read_as_iso_text(es, trust):
    dcc = keys.sample_dcc("t")
    entry = dcc["t"][0]
    entry["sc"] = cbor2.CBORTag(0, "2021-06-01T10:00:00+02:00")  # RFC 3339 text
    entry["dr"] = cbor2.CBORTag(1, 1622541600)  # epoch seconds
    dcc["dob"] = cbor2.CBORTag(1004, "1990-01-01")  # RFC 8943 full-date
    result = verify(_signed(es, cbor2.dumps(_claims(dcc))), trust, at=NOW)
    assert (result.valid, result.reason) == (True, "ok")
    got = result.claims["dcc"]
    assert got["t"][0]["sc"] == "2021-06-01T08:00:00Z"
    assert got["t"][0]["dr"] == "2021-06-01T10:00:00Z"
    assert got["dob"] == "1990-01-01"
    json.dumps(result.to_json())  # JSON-ready all the way down


def test_a_tagged_date_that_is_not_a_date_is_bad_claims_or_corrupted(es, trust):
    for bad in (cbor2.CBORTag(0, "yesterday"), cbor2.CBORTag(0, 12), cbor2.CBORTag(1, "x")):
        dcc = keys.sample_dcc("t")
        dcc["t"][0]["sc"] = bad
        result = verify(_signed(es, cbor2.dumps(_claims(dcc))), trust, at=NOW)
        assert not result.valid and result.reason == "bad_claims", bad


# --- older schema versions ------------------------------------------------------------


def test_older_schema_layout_with_empty_groups_and_several_entries(es, trust):
    dcc = keys.sample_dcc("v")
    dcc["ver"] = "1.0.0"
    second = dict(dcc["v"][0], dn=1, ci=dcc["v"][0]["ci"] + "A")
    dcc["v"] = [dcc["v"][0], second]
    dcc["t"] = []
    dcc["r"] = None
    result = verify(_signed(es, cbor2.dumps(_claims(dcc))), trust, at=NOW)
    assert (result.valid, result.reason) == (True, "ok")
    assert result.claims["type"] == "v" and "t" not in result.claims["dcc"]
    assert result.uvci == dcc["v"][0]["ci"]


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.update(t=keys.sample_dcc("t")["t"]),  # two groups with entries
        lambda d: d.update(v=[]),  # no group with entries
        lambda d: d.update(v=["not a map"]),
        lambda d: d.update(v={"dn": 1}),  # a group that is not a list
        lambda d: d.pop("nam"),
    ],
)
def test_layouts_no_schema_allows_stay_refused(es, trust, change):
    dcc = keys.sample_dcc("v")
    change(dcc)
    assert verify(_signed(es, cbor2.dumps(_claims(dcc))), trust, at=NOW).reason == "bad_claims"


# --- duplicate map keys (issue #16 item 9) ---------------------------------------------


def _map(pairs: list[tuple[bytes, bytes]]) -> bytes:
    assert len(pairs) < 24
    return bytes([0xA0 | len(pairs)]) + b"".join(k + v for k, v in pairs)


def _enc_pairs(claims: dict) -> list[tuple[bytes, bytes]]:
    return [(cbor2.dumps(k), cbor2.dumps(v)) for k, v in claims.items()]


def test_duplicate_claim_key_is_refused(es, trust):
    pairs = _enc_pairs(_claims())
    later = cbor2.dumps(int(NOW + 1000 * DAY))
    for key in (cbor2.dumps(hcert.EXP), b"\x18\x04"):  # same key, and in a longer encoding
        payload = _map([*pairs, (key, later)])
        with pytest.raises(CborError, match="twice"):
            loads_exact(payload)
        assert cbor2.loads(payload)[hcert.EXP] == int(NOW + 1000 * DAY)  # what cbor2 would do
        result = verify(_signed(es, payload), trust, at=NOW)
        assert (result.valid, result.reason) == (False, "bad_claims")


def test_duplicate_key_deep_in_the_certificate_is_refused(es, trust):
    nam = _map([(cbor2.dumps("fn"), cbor2.dumps("Zhang")), (cbor2.dumps("fn"), cbor2.dumps("Li"))])
    dcc = keys.sample_dcc("v")
    del dcc["nam"]
    dcc_bytes = _map([*_enc_pairs(dcc), (cbor2.dumps("nam"), nam)])
    claims = _claims()
    del claims[hcert.HCERT]
    payload = _map([*_enc_pairs(claims), (cbor2.dumps(hcert.HCERT), _map([(b"\x01", dcc_bytes)]))])
    assert verify(_signed(es, payload), trust, at=NOW).reason == "bad_claims"


def test_duplicate_key_in_the_protected_header_is_corrupted(es, trust):
    protected = _map(
        [(b"\x01", cbor2.dumps(-7)), (b"\x04", cbor2.dumps(es.kid)), (b"\x01", b"\x26")]
    )
    text = envelope.wrap(
        cbor2.dumps(cbor2.CBORTag(18, [protected, {}, cbor2.dumps(_claims()), b"x" * 64]))
    )
    assert verify(text, trust, at=NOW).reason == "corrupted"


def test_equal_values_under_different_key_types_are_different_keys():
    assert loads_exact(_map([(b"\x01", b"\x01"), (b"\xf5", b"\x02"), (b"\xf9\x3c\x00", b"\x03")]))
    assert loads_exact(_map([(b"\x61a", b"\x01"), (b"\x41a", b"\x02")]))  # text vs bytes


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x18",
        b"\x5f\x41",
        b"\x9f\x01",
        b"\xbf\x01",
        b"\x1c",
        b"\xff",
        b"\x82\x01",
        b"\xa1\x01",
        b"\x7f\x41a\xff",
        b"\xc0" * 100 + b"\x00",
        b"\x81" * 100 + b"\x00",
    ],
)
def test_malformed_cbor_is_refused_not_raised(data):
    with pytest.raises(CborError):
        loads_exact(data)


# --- signer certificates: liberal in encoding, strict in meaning -------------------------


def _check(args: list[str]) -> tuple[int, list[dict], str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = check_code.main(args)
    return status, [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


def _write(folder: Path, name: str, data: bytes) -> str:
    path = folder / name
    path.write_bytes(data)
    return str(path)


@pytest.mark.parametrize("long_lengths", [False, True])
@pytest.mark.parametrize("pem", [False, True])
def test_noncanonical_signer_certificate_verifies(tmp_path, long_lengths, pem):
    dsc = issuer("ber", usage=("v",))
    blob = keys.noncanonical_certificate(dsc, long_lengths=long_lengths)
    with pytest.raises(ValueError):  # cryptography refuses it, at load or at its extensions
        x509.load_der_x509_certificate(blob).extensions  # noqa: B018
    kid = trustlist.kid_of(blob)
    assert kid != dsc.kid  # the kid is over the bytes as published
    code = keys.sign_code(dsc, keys.sample_dcc("v"), iat=NOW - DAY, kid=kid)
    data = blob
    if pem:
        data = x509.load_der_x509_certificate(
            dsc.certificate.public_bytes(serialization.Encoding.DER)
        ).public_bytes(serialization.Encoding.PEM)
        import base64

        b64 = base64.encodebytes(blob)
        data = data + b"-----BEGIN CERTIFICATE-----\n" + b64 + b"-----END CERTIFICATE-----\n"
    status, lines, _ = _check(["--cert", _write(tmp_path, "dsc", data), code])
    assert status == 0 and lines[0]["reason"] == "ok" and lines[0]["kid"] == kid.hex()


def test_lenient_and_strict_reads_agree_on_everything_but_the_kid():
    dsc = issuer("agree", usage=("t", "r"))
    strict = dsc.trusted_key()
    lenient = trustlist.key_from_der(keys.noncanonical_certificate(dsc, long_lengths=True))
    for name in ("country", "usage", "not_before", "not_after", "label"):
        assert getattr(lenient, name) == getattr(strict, name), name
    assert lenient.key.public_numbers() == strict.key.public_numbers()


def test_noncanonical_certificate_stays_strict_about_usage_and_validity(tmp_path):
    dsc = issuer("ber-tests", usage=("t",))
    blob = keys.noncanonical_certificate(dsc)
    kid = trustlist.kid_of(blob)
    cert = _write(tmp_path, "dsc.der", blob)
    vaccination = keys.sign_code(dsc, keys.sample_dcc("v"), kid=kid)
    late = keys.sign_code(
        dsc, keys.sample_dcc("t"), iat=NOW + 800 * DAY, exp=NOW + 900 * DAY, kid=kid
    )
    forged = keys.sign_code(issuer("other"), keys.sample_dcc("t"), kid=kid)
    status, lines, _ = _check(
        ["--cert", cert, "--at", str(NOW + 850 * DAY), vaccination, late, forged]
    )
    assert [x["reason"] for x in lines] == ["wrong_key_usage", "wrong_key_usage", "bad_signature"]
    assert status == 1


def test_unusable_signer_certificate_gives_its_codes_a_verdict(tmp_path):
    dsc = issuer("garbled")
    garbage = b"\x30\x03\x02\x01"  # truncated
    code = keys.sign_code(dsc, kid=trustlist.kid_of(garbage))
    unrelated = keys.sign_code(issuer("es"))
    status, lines, err = _check(["--cert", _write(tmp_path, "bad.der", garbage), code, unrelated])
    assert status == 1
    assert lines[0]["reason"] == "bad_certificate" and "unreadable" in lines[0]["detail"]
    assert lines[1]["reason"] == "unknown_issuer"
    assert "bad.der" in err


def test_certificate_without_digital_signature_key_usage_is_refused():
    from cryptography.hazmat.primitives import hashes

    dsc = issuer("cert-sign-only")
    builder = (
        x509.CertificateBuilder()
        .subject_name(dsc.certificate.subject)
        .issuer_name(dsc.certificate.subject)
        .public_key(dsc.private_key.public_key())
        .serial_number(1)
        .not_valid_before(dsc.certificate.not_valid_before_utc)
        .not_valid_after(dsc.certificate.not_valid_after_utc)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, False, False, False), True
        )
    )
    cert = builder.sign(dsc.private_key, hashes.SHA256())
    with pytest.raises(trustlist.CertificateError, match="digital signatures"):
        trustlist.key_from_certificate(cert)


# --- fuzz: arbitrary certificates and payloads through check-code -----------------------

_DSC = issuer("fuzz", usage=("v", "t"))
_BLOB = keys.noncanonical_certificate(_DSC)
_CANONICAL = _DSC.certificate.public_bytes(serialization.Encoding.DER)

cbor_values = st.recursive(
    st.integers(-(2**64), 2**64)
    | st.floats()
    | st.text(max_size=6)
    | st.binary(max_size=6)
    | st.booleans()
    | st.none()
    | st.builds(
        cbor2.CBORTag,
        st.sampled_from([0, 1, 100, 1004, 2, 18]),
        st.text(max_size=25) | st.integers(-5, 2**40) | st.floats(),
    ),
    lambda c: (
        st.lists(c, max_size=4)
        | st.dictionaries(st.integers(-300, 10) | st.text(max_size=4), c, max_size=5)
    ),
    max_leaves=14,
)


def _mutate(blob: bytes, edits: list[tuple[int, int]], cut: int | None) -> bytes:
    data = bytearray(blob)
    for pos, value in edits:
        data[pos % len(data)] = value
    return bytes(data[:cut] if cut else data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.sampled_from([_BLOB, _CANONICAL, b""]),
    edits=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=4),
    cut=st.none() | st.integers(1, 600),
    junk=st.binary(max_size=64),
    payload=st.one_of(
        cbor_values.map(lambda v: cbor2.dumps(v)),
        cbor_values.map(lambda v: cbor2.dumps(_claims(dcc=v))),
        cbor_values.map(lambda v: cbor2.dumps(_claims(exp=v))),
        st.binary(max_size=80),
    ),
    pem=st.booleans(),
)
def test_fuzz_check_code_gives_every_code_a_verdict(base, edits, cut, junk, payload, pem):
    cert = _mutate(base, edits, cut) if base else junk
    if pem:
        import base64

        cert = (
            b"-----BEGIN CERTIFICATE-----\n"
            + base64.encodebytes(cert)
            + b"-----END CERTIFICATE-----\n"
        )
        blobs = [trustlist.certificate_blobs(cert)[0]]
    else:
        blobs = [cert]
    kid = trustlist.kid_of(blobs[0])
    code = envelope.wrap(keys.sign_cose(_DSC.private_key, kid, payload))
    with tempfile.TemporaryDirectory() as folder:
        path = _write(Path(folder), "cert", cert)
        status, lines, _ = _check(["--cert", path, "--at", str(NOW), code])
    assert status in (0, 1)
    assert len(lines) == 1
    assert lines[0]["reason"] in REASONS and (lines[0]["reason"] == "ok") == lines[0]["valid"]
    assert lines[0]["valid"] or lines[0]["reason"] != "ok"
    json.dumps(lines[0])


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_lenient_certificate_reader_refuses_or_reads(data):
    try:
        trustlist.key_from_der(data)
    except trustlist.CertificateError:
        pass
    try:
        der.certificate_fields(data)
    except der.DerError:
        pass
