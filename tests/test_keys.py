"""The key tool and check-code, end to end as an installer would run them: make keys,
sign a trust list and codes, render a QR image, and check it back with real zxing-cpp."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

REPO = Path(__file__).resolve().parents[1]


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        input=stdin,
        cwd=REPO,
    )


def keys_cli(*args: str) -> dict:
    out = run("-m", "provisioning.keys", *args)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def check(*args: str) -> tuple[int, list[dict]]:
    out = run("-m", "firmware.kiosk.check_code", *args)
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    return out.returncode, lines


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    d = tmp_path_factory.mktemp("site")
    keys_cli("root", "--out", str(d / "root"))
    keys_cli("issuer", "--out", str(d / "vacc"), "--usage", "v")
    keys_cli(
        "issuer",
        "--out",
        str(d / "rsa"),
        "--alg",
        "PS256",
        "--not-before",
        "2020-01-01",
        "--days",
        "7300",
    )
    keys_cli(
        "trust-list",
        "--root-key",
        str(d / "root.key.pem"),
        "--site",
        "demo",
        "--version",
        "3",
        "--cert",
        str(d / "vacc.crt.pem"),
        "--cert",
        str(d / "rsa.crt.pem"),
        "--out",
        str(d / "trust.cose"),
    )
    return d


def sign(d: Path, issuer: str, *extra: str) -> str:
    out = run(
        "-m",
        "provisioning.keys",
        "code",
        "--key",
        str(d / f"{issuer}.key.pem"),
        "--cert",
        str(d / f"{issuer}.crt.pem"),
        *extra,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_private_keys_are_owner_only_and_kid_is_the_cert_hash(site):
    for name in ("root.key.pem", "vacc.key.pem", "rsa.key.pem"):
        assert (site / name).stat().st_mode & 0o077 == 0, name
    cert = x509.load_pem_x509_certificate((site / "vacc.crt.pem").read_bytes())
    der = cert.public_bytes(Encoding.DER)
    code = sign(site, "vacc")
    rc, (line,) = check("--cert", str(site / "vacc.crt.pem"), code)
    assert rc == 0
    assert line["kid"] == hashlib.sha256(der).digest()[:8].hex()


def test_qr_image_and_text_checked_against_the_signed_trust_list(site):
    qr = site / "code.png"
    code = sign(site, "vacc", "--qr", str(qr), "--family", "Li", "--given", "Na")
    rc, lines = check(
        "--trust-list",
        str(site / "trust.cose"),
        "--root",
        str(site / "root.pub.pem"),
        str(qr),
        code,
    )
    assert rc == 0
    assert [(ln["input"], ln["valid"], ln["reason"]) for ln in lines] == [
        (str(qr) + "#1", True, "ok"),
        ("arg:2", True, "ok"),
    ]
    assert lines[0]["claims"]["dcc"]["nam"]["fn"] == "Li"
    assert lines[0]["not_after"].endswith("Z") and lines[0]["issuer"] == "CN"


def test_wrong_usage_expired_and_corrupted_in_one_run(site):
    recovery = sign(site, "vacc", "--type", "r")
    rsa_code = sign(
        site, "rsa", "--iat", "2027-06-01T00:00:00Z", "--days", "2", "--kid-unprotected"
    )
    args = ["--trust-list", str(site / "trust.cose"), "--root", str(site / "root.pub.pem")]
    rc, lines = check(
        *args, "--at", "2027-06-05", recovery, rsa_code, rsa_code[:-30], "not-a-code"
    )
    assert rc == 1
    assert [ln["reason"] for ln in lines] == [
        "wrong_key_usage",
        "expired",
        "corrupted",
        "not_signed_code",
    ]
    assert not any(ln["valid"] for ln in lines)
    assert lines[1]["at"] == "2027-06-05T00:00:00Z"
    rc, (line,) = check(*args, "--at", "2027-06-02T00:00:00+08:00", rsa_code)
    assert (rc, line["reason"]) == (0, "ok")


def test_a_trust_list_from_another_root_is_refused_with_a_clear_error(site, tmp_path):
    keys_cli("root", "--out", str(tmp_path / "other"))
    out = run(
        "-m",
        "firmware.kiosk.check_code",
        "--trust-list",
        str(site / "trust.cose"),
        "--root",
        str(tmp_path / "other.pub.pem"),
        "HC1:x",
    )
    assert out.returncode == 2 and "unknown_signer" in out.stderr
    out = run("-m", "firmware.kiosk.check_code", "HC1:x")
    assert out.returncode == 2 and "--cert" in out.stderr


def test_red_list_from_the_tool_refuses_a_revoked_code(site):
    code = sign(site, "vacc")
    rc, (line,) = check("--cert", str(site / "vacc.crt.pem"), code)
    uvci = line["claims"]["dcc"]["v"][0]["ci"]
    keys_cli(
        "red-list",
        "--root-key",
        str(site / "root.key.pem"),
        "--site",
        "demo",
        "--version",
        "1",
        "--uvci",
        uvci,
        "--out",
        str(site / "red.cose"),
    )
    assert uvci.encode() not in (site / "red.cose").read_bytes()
    rc, (line,) = check(
        "--cert",
        str(site / "vacc.crt.pem"),
        "--red-list",
        str(site / "red.cose"),
        "--root",
        str(site / "root.pub.pem"),
        code,
    )
    assert (rc, line["valid"], line["reason"]) == (1, False, "red_listed")


def test_image_without_a_code_and_missing_file(site, tmp_path):
    from PIL import Image

    blank = tmp_path / "blank.png"
    Image.new("L", (200, 200), 255).save(blank)
    rc, lines = check("--cert", str(site / "vacc.crt.pem"), str(blank), str(tmp_path / "nope.png"))
    assert rc == 2
    assert [(ln["reason"], ln["detail"]) for ln in lines] == [
        ("no_code", "no QR code found in the image"),
        ("no_code", "file not found"),
    ]
