"""Write a shop unit's firmware, identity and Wi-Fi settings to the device with mpremote.

`python -m provisioning.shop_device PORT BUNDLE SSID PASSWORD` (`just shop-deploy`):
BUNDLE is the folder `enrol --kind shop` made. The device gets the firmware files at the
same paths the tests run them from (/lib/firmware/...), micropython-lib's umqtt.simple as
scripts/setup fetched it (pinned in firmware/shop/requirements.txt), /shop.json with the
Wi-Fi settings added, DER copies of the site CA and the unit's certificate and key when the
site uses TLS (MicroPython's ssl takes DER), and /main.py. `--dry-run` prints the
mpremote command instead of running it.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

ROOT = Path(__file__).resolve().parent.parent
FIRMWARE = ROOT / "firmware"
SHOP_MODULES = ("__init__.py", "app.py", "board.py", "indicator.py", "link.py", "outbox.py",
                "scanner.py", "unit.py")


def device_files(bundle: Path, ssid: str, password: str, country: str = "CN") -> dict[str, bytes]:
    """Device path -> content."""
    umqtt = FIRMWARE / "shop/lib/umqtt/simple.py"
    if not umqtt.exists():
        raise SystemExit("umqtt.simple not fetched: run scripts/setup")
    cfg = json.loads((bundle / "shop.json").read_text())
    cfg["wifi"] = {"ssid": ssid, "password": password, "country": country}
    files = {
        "/main.py": (FIRMWARE / "shop/main.py").read_bytes(),
        "/shop.json": json.dumps(cfg, ensure_ascii=False).encode(),
        "/lib/umqtt/simple.py": umqtt.read_bytes(),
    }
    for name in ("__init__.py", "manual_id.py", "protocol.py", "verdict.py"):
        files[f"/lib/firmware/{name}"] = (FIRMWARE / name).read_bytes()
    for name in SHOP_MODULES:
        files[f"/lib/firmware/shop/{name}"] = (FIRMWARE / "shop" / name).read_bytes()
    if "tls" in cfg:
        files["/ca.der"] = x509.load_pem_x509_certificate((bundle / "ca.pem").read_bytes()) \
            .public_bytes(serialization.Encoding.DER)
        files["/client.der"] = x509.load_pem_x509_certificate(
            (bundle / "client.pem").read_bytes()).public_bytes(serialization.Encoding.DER)
        key = serialization.load_pem_private_key((bundle / "client.key").read_bytes(), None)
        files["/client.key.der"] = key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption())
    return files


def mpremote_command(port: str, staging: Path, files: dict[str, bytes]) -> list[str]:
    """One mpremote invocation: make the folders, copy every file, reset the unit."""
    dirs = sorted({str(parent) for p in files for parent in Path(p).parents
                   if str(parent) != "/"}, key=len)
    mkdirs = (f"import os\nfor d in {dirs!r}:\n    try:\n        os.mkdir(d)\n"
              "    except OSError:\n        pass\n")
    cmd = ["mpremote", "connect", port, "exec", mkdirs]
    for path in files:
        cmd += ["+", "fs", "cp", str(staging / path.lstrip("/")), ":" + path]
    return cmd + ["+", "reset"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("port", help="the unit's USB serial port, e.g. /dev/ttyACM0")
    p.add_argument("bundle", type=Path, help="the folder `enrol --kind shop` made")
    p.add_argument("ssid")
    p.add_argument("password")
    p.add_argument("--country", default="CN", help="Wi-Fi regulatory country")
    p.add_argument("--dry-run", action="store_true")
    args = p.parse_args(argv)
    files = device_files(args.bundle, args.ssid, args.password, args.country)
    with tempfile.TemporaryDirectory(prefix="shop-deploy-") as tmp:
        staging = Path(tmp)
        for path, data in files.items():
            target = staging / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        cmd = mpremote_command(args.port, staging, files)
        if args.dry_run:
            print(shlex.join(cmd).replace(args.password, "***"))
            return 0
        if shutil.which("mpremote") is None:
            print("mpremote not found: pip install mpremote", file=sys.stderr)
            return 1
        return subprocess.run(cmd, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
