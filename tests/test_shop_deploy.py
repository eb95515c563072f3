"""Enrolling a shop unit and what `just shop-deploy` writes to it: the same firmware files
the MicroPython tests run, the pinned umqtt.simple, shop.json with the Wi-Fi settings,
and the site's TLS files in the DER form MicroPython's ssl takes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from firmware.shop import app
from provisioning import shop_device
from provisioning.enrol import Enrolment, SiteSetup
from provisioning.registry import Registry, build_venue

ROOT = Path(__file__).resolve().parent.parent
VENUE = "41010300000101"
needs_umqtt = pytest.mark.skipif(not (ROOT / "firmware/shop/lib/umqtt/simple.py").exists(),
                                 reason="umqtt.simple not fetched: run scripts/setup")


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    registry = Registry(tmp_path / "register.db")
    registry.put(build_venue({
        "code": VENUE, "name": "老王面馆", "category": "supermarket",
        "credit_code": "914403001922038216", "address": "郑州市二七区大学路1号",
        "manager_name": "王经理", "manager_phone": "13800138000", "doors": "01:主入口",
    }))  # fmt: skip
    enrolment = Enrolment(registry, SiteSetup("mall-1", tmp_path / "site",
                                              broker_host="192.0.2.10"))
    enrolment.init_site(["192.0.2.10"])
    identity = enrolment.enrol(VENUE, "01", kind="shop")
    assert identity.kiosk == f"s{VENUE}-01-1"
    assert [(k["kiosk"], k["kind"]) for k in enrolment.kiosks()] == [(identity.kiosk, "shop")]
    yield identity.bundle_dir
    registry.close()


@needs_umqtt
def test_device_files_are_what_the_tests_run_plus_identity_and_wifi(bundle: Path) -> None:
    files = shop_device.device_files(bundle, "shop-wifi", "secret-wifi")
    cfg = app.load_config(files["/shop.json"].decode())  # the unit's own config check
    assert cfg["wifi"] == {"ssid": "shop-wifi", "password": "secret-wifi", "country": "CN"}
    assert cfg["unit"] == cfg["username"] == f"s{VENUE}-01-1"
    assert cfg["host"] == "192.0.2.10" and cfg["port"] == 8883
    umqtt = (ROOT / "firmware/shop/lib/umqtt/simple.py").read_bytes()
    assert files["/lib/umqtt/simple.py"] == umqtt
    shop = {p.name for p in (ROOT / "firmware/shop").glob("*.py")}
    deployed = {p.rsplit("/", 1)[1] for p in files if p.startswith("/lib/firmware/shop/")}
    assert deployed == shop - {"main.py", "sim_board.py", "manifest.py"}
    assert files["/main.py"] == (ROOT / "firmware/shop/main.py").read_bytes()
    # TLS: the DER files shop.json names, parseable as what they claim to be
    assert cfg["tls"] == {"ca": "/ca.der", "cert": "/client.der", "key": "/client.key.der"}
    x509.load_der_x509_certificate(files["/ca.der"])
    cert = x509.load_der_x509_certificate(files["/client.der"])
    assert f"CN=s{VENUE}-01-1," in cert.subject.rfc4514_string()
    serialization.load_der_private_key(files["/client.key.der"], None)


@needs_umqtt
def test_deploy_dry_run_prints_one_mpremote_command_without_the_password(bundle: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "provisioning.shop_device", "/dev/ttyACM0", str(bundle),
         "shop-wifi", "secret-wifi", "--dry-run"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
    )
    line = run.stdout.strip()
    assert line.startswith("mpremote connect /dev/ttyACM0 exec")
    assert ":/shop.json" in line and ":/lib/umqtt/simple.py" in line and line.endswith("reset")
    assert "secret-wifi" not in line


def test_the_unit_refuses_unknown_and_missing_options() -> None:
    base = {"site": "s", "unit": "u", "door": "d", "host": "h"}
    assert app.load_config(json.dumps(base))["port"] == 1883
    with pytest.raises(app.ConfigError, match="unknown option 'prot'"):
        app.load_config(json.dumps({**base, "prot": 1884}))
    with pytest.raises(app.ConfigError, match="option 'host' is required"):
        app.load_config(json.dumps({k: v for k, v in base.items() if k != "host"}))


@needs_umqtt
def test_the_hardware_modules_compile_under_micropython() -> None:
    """board.py and main.py need `machine` and `network`, so no test runs them; MicroPython's
    own compiler (the WebAssembly port) still checks that the board would accept them."""
    node = shutil.which("node")
    assert node, "node is not installed (scripts/setup installs nodejs)"
    run = subprocess.run(
        [node, "tests/shop_node.mjs", "compile"], cwd=ROOT / "firmware", capture_output=True,
        text=True, timeout=60, check=False,
        env=dict(os.environ, SHOP_IN_FD="0", SHOP_OUT_FD="1"),
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "compiled main.py" in run.stdout and "compiled board.py" in run.stdout
