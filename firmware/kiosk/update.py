"""Kiosk updates from the gateway, side by side, with automatic rollback.

A kiosk at a door must never be left running nothing. So a release is installed next to
the running one (`<root>/releases/<name>/`), the `<root>/current` symlink is swapped in one
rename, the service is restarted, and the new version has `health_timeout_s` to show up at
the gateway as online with its own software version. If it does not (it crashes, hangs,
cannot reach the broker), `current` is pointed back at the previous release and the
service restarted again — without anyone on site. The swap is atomic, so a power cut
leaves either the old or the new symlink, never none; `<root>/update-pending` records an
unfinished update with the boot and the updater's pid, and `recover` (run before every
kiosk start) rolls it back only if that updater can no longer finish it: the machine has
rebooted since, or the updater process is gone.

Data files are not copied: a release migrates them at start (firmware/schema.py), and
migrations keep the previous release able to use the file, so a rollback runs on the data
as the new release left it, scans taken meanwhile included. A release that cannot use a
file exits with code 2 and one line; that fails the health check and rolls it back.

A bundle is `placecode-<name>.tar.gz` plus `.sha256` (sha256sum format) and optionally
`.sig` (Ed25519 over the tarball; checked when the kiosk has /etc/placecode/release-key.pub).
Bundles are reproducible: the same source tree gives the same bytes and the same name.

CLI: python -m firmware.kiosk.update build|apply|recover --help
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gzip
import hashlib
import io
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import tomllib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from firmware.kiosk.fsync import fsync_path

log = logging.getLogger(__name__)

PARTS = ("firmware", "gateway", "simulators", "provisioning")
SKIP_DIRS = {"node_modules", "tests", "__pycache__", ".pytest_cache"}
SKIP_SUFFIXES = (".pyc", ".pyo", ".log", ".sqlite")
NAME_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$")
KEEP_RELEASES = 3


class UpdateError(RuntimeError):
    pass


# --- building a bundle (on the build machine, or by the installer from a checkout) ---------


def software_version(tree: Path) -> str:
    text = (tree / "firmware" / "kiosk" / "__init__.py").read_text()
    match = re.search(r'^SOFTWARE_VERSION = "([^"]+)"', text, re.MULTILINE)
    if not match:
        raise UpdateError(f"{tree}: no SOFTWARE_VERSION in firmware/kiosk/__init__.py")
    return match.group(1)


def release_files(source: Path) -> list[Path]:
    files = []
    for part in PARTS:
        for path in sorted((source / part).rglob("*")):
            rel = path.relative_to(source)
            if path.is_file() and not SKIP_DIRS.intersection(rel.parts) \
                    and not path.name.endswith(SKIP_SUFFIXES):
                files.append(rel)
    return files


def build_bundle(source: Path, out_dir: Path, signing_key: Path | None = None) -> Path:
    """Write placecode-<sw>-<hash>.tar.gz (+ .sha256, + .sig) into out_dir; return it."""
    source, out_dir = Path(source), Path(out_dir)
    files = release_files(source)
    digest = hashlib.sha256()
    for rel in files:
        digest.update(str(rel).encode() + b"\0" + (source / rel).read_bytes() + b"\0")
    name = f"{software_version(source)}-{digest.hexdigest()[:10]}"
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel in files:
            data = (source / rel).read_bytes()
            info = tarfile.TarInfo(str(rel))
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo("RELEASE")
        body = json.dumps({"name": name, "sw": software_version(source)}).encode()
        info.size, info.mtime, info.mode = len(body), 0, 0o644
        tar.addfile(info, io.BytesIO(body))
    packed = gzip.compress(raw.getvalue(), compresslevel=9, mtime=0)
    out_dir.mkdir(parents=True, exist_ok=True)
    bundle = out_dir / f"placecode-{name}.tar.gz"
    _write_if_changed(bundle, packed)
    _write_if_changed(bundle.with_name(bundle.name + ".sha256"),
                      f"{hashlib.sha256(packed).hexdigest()}  {bundle.name}\n".encode())
    if signing_key:
        from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PrivateKey
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        key = load_pem_private_key(Path(signing_key).read_bytes(), None)
        if not isinstance(key, (Ed25519PrivateKey, Ed448PrivateKey)):
            raise UpdateError(f"{signing_key} is not an Ed25519 key")
        _write_if_changed(bundle.with_name(bundle.name + ".sig"),
                          base64.b64encode(key.sign(packed)) + b"\n")
    return bundle


def _write_if_changed(path: Path, data: bytes) -> None:
    if not path.exists() or path.read_bytes() != data:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)


# --- installing a bundle side by side --------------------------------------------------


def verify(
    data: bytes, sha256_line: str, signature: bytes | None, public_key: Path | None
) -> None:
    want = sha256_line.split()[0].lower() if sha256_line.strip() else ""
    if hashlib.sha256(data).hexdigest() != want:
        raise UpdateError("bundle checksum does not match its .sha256")
    if public_key is not None:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PublicKey
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        if not signature:
            raise UpdateError("bundle is not signed, but this kiosk requires signed releases")
        try:
            key = load_pem_public_key(public_key.read_bytes())
            if not isinstance(key, (Ed25519PublicKey, Ed448PublicKey)):
                raise UpdateError(f"{public_key} is not an Ed25519 key")
            key.verify(base64.b64decode(signature), data)
        except (InvalidSignature, ValueError):
            raise UpdateError("bundle signature is not valid") from None


def unpack(data: bytes, root: Path) -> tuple[str, str]:
    """Unpack into root/releases/<name> (once); return (name, sw)."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        release = tar.extractfile("RELEASE")
        if release is None:
            raise UpdateError("bundle RELEASE is not a file")
        meta = json.loads(release.read())
        name, sw = meta["name"], meta["sw"]
        if not NAME_RE.match(name):
            raise UpdateError(f"bad release name {name!r}")
        target = root / "releases" / name
        if (target / "RELEASE").exists():
            return name, sw  # already unpacked: installing twice changes nothing
        staging = root / "releases" / f".{name}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        _extract_plain_files(tar, staging)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(staging)], check=False)
    staging.replace(target)
    return name, sw


def _extract_plain_files(tar: tarfile.TarFile, target: Path) -> None:
    """Only regular files and folders under `target`: a bundle has nothing else, so a link,
    a device, an absolute path or `..` means a forged bundle. (Checked here by hand:
    bookworm's Python 3.11.2 predates tarfile's extraction filters.)"""
    for member in tar.getmembers():
        parts = Path(member.name).parts
        if not (member.isfile() or member.isdir()) or member.name.startswith("/") or ".." in parts:
            raise UpdateError(f"bundle member {member.name!r} is not a plain file")
        if member.isfile():
            path = target.joinpath(*parts)
            path.parent.mkdir(parents=True, exist_ok=True)
            content = tar.extractfile(member)
            assert content is not None  # a regular file always has content
            path.write_bytes(content.read())
            path.chmod(0o644)


def current_release(root: Path) -> str | None:
    link = root / "current"
    return os.readlink(link).split("/")[-1] if link.is_symlink() else None


def point_current(root: Path, name: str) -> None:
    """Swap the `current` symlink in one rename."""
    tmp = root / ".current.tmp"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(Path("releases") / name)
    tmp.replace(root / "current")
    fsync_path(root)


def prune(root: Path, keep: set[str]) -> None:
    releases = sorted((root / "releases").iterdir(), key=lambda p: p.stat().st_mtime)
    old = [p for p in releases if p.name not in keep and not p.name.startswith(".")]
    for path in old[: max(0, len(releases) - KEEP_RELEASES)]:
        shutil.rmtree(path, ignore_errors=True)


# --- fetching, health, the whole update ------------------------------------------------


async def fetch(
    client: httpx.AsyncClient, gateway: str, name: str | None
) -> tuple[bytes, str, bytes | None]:
    if name is None:
        listing = (await client.get(f"{gateway}/api/releases")).raise_for_status().json()
        name = listing.get("latest")
        if not name:
            raise UpdateError("the gateway offers no release")
    base = f"{gateway}/api/releases/placecode-{name}.tar.gz"
    data = (await client.get(base)).raise_for_status().content
    sha = (await client.get(base + ".sha256")).raise_for_status().text
    sig_response = await client.get(base + ".sig")
    return data, sha, (sig_response.content if sig_response.status_code == 200 else None)


@dataclass(frozen=True, slots=True)
class HealthCheck:
    """The kiosk counts as healthy once the gateway has heard it online, running `sw`,
    after the restart (both times on the gateway's clock)."""

    gateway: str
    kiosk: str

    async def gateway_now_ms(self, client: httpx.AsyncClient) -> int:
        return int((await client.get(f"{self.gateway}/api/time")).json()["now_ms"])

    async def wait(
        self, client: httpx.AsyncClient, sw: str, since_ms: int, timeout_s: float
    ) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                row = (await client.get(f"{self.gateway}/api/update-status/{self.kiosk}")).json()
                if (
                    row["state"] == "online"
                    and row.get("sw") == sw
                    and row["last_seen_ms"] >= since_ms
                ):
                    return True
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            await asyncio.sleep(0.2)
        return False


Restart = Callable[[], Awaitable[None]]


def systemctl_restart(unit: str = "placecode-kiosk.service") -> Restart:
    async def restart() -> None:
        proc = await asyncio.create_subprocess_exec("systemctl", "restart", "--no-block", unit)
        await proc.wait()
    return restart


async def apply(root: Path, gateway: str, check: HealthCheck, restart: Restart,
                name: str | None = None, health_timeout_s: float = 60.0,
                public_key: Path | None = None, client_options: dict | None = None) -> dict:
    """Fetch, verify, install, switch, restart, check; roll back if unhealthy.
    `client_options`: httpx options for the gateway (timesync.gateway_client_options)."""
    root = Path(root)
    async with httpx.AsyncClient(timeout=30, **(client_options or {})) as client:
        data, sha, sig = await fetch(client, gateway, name)
        verify(data, sha, sig, public_key)
        new, sw = unpack(data, root)
        previous = current_release(root)
        if new == previous:
            return {"result": "already_current", "release": new}
        (root / "update-pending").write_text(json.dumps(
            {"from": previous, "to": new, "boot": boot_id(), "pid": os.getpid()}))
        since = await check.gateway_now_ms(client)
        point_current(root, new)
        await restart()
        log.info("updated %s -> %s; waiting up to %.0f s for it to come up", previous, new,
                 health_timeout_s)
        if await check.wait(client, sw, since, health_timeout_s):
            (root / "update-pending").unlink(missing_ok=True)
            prune(root, {new, previous or ""})
            return {"result": "updated", "release": new, "previous": previous}
        log.error("release %s not healthy within %.0f s: rolling back to %s", new,
                  health_timeout_s, previous)
        if previous is None:
            raise UpdateError(f"release {new} is unhealthy and there is nothing to roll back to")
        point_current(root, previous)
        (root / "update-pending").unlink(missing_ok=True)
        await restart()
        back = await check.wait(client, software_version(root / "current"),
                                await check.gateway_now_ms(client), health_timeout_s)
        return {"result": "rolled_back", "release": previous, "failed": new,
                "previous_healthy": back}


def boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _running(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover(root: Path) -> str | None:
    """Before the kiosk starts: an update cut short (power cut, updater killed while it
    checked the new release) is rolled back. One still being checked is left alone: the
    updater restarts the kiosk on purpose and decides itself."""
    pending = Path(root) / "update-pending"
    if not pending.exists():
        return None
    state = json.loads(pending.read_text())
    if state.get("boot") == boot_id() and _running(state.get("pid")):
        return None
    if state.get("from"):
        point_current(Path(root), state["from"])
    pending.unlink()
    return state.get("from")


def gateway_options(config: Path, gateway: str) -> dict:
    """Credentials and CA for the gateway from the kiosk's config file, read directly (not
    through the kiosk's config model, which a release may change): none without one."""
    from firmware.kiosk.timesync import gateway_client_options

    try:
        broker = tomllib.loads(config.read_text()).get("broker", {})
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UpdateError(f"{config}: {exc}") from None
    return gateway_client_options(gateway, broker.get("username"), broker.get("password"),
                                  broker.get("ca_file"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m firmware.kiosk.update")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="make a release bundle from a source tree")
    b.add_argument("--source", type=Path, default=Path(__file__).resolve().parents[2])
    b.add_argument("--out", type=Path, required=True)
    b.add_argument("--signing-key", type=Path)
    i = sub.add_parser("install", help="unpack a local bundle and make it current (installer)")
    i.add_argument("bundle", type=Path)
    i.add_argument("--root", type=Path, default=Path("/opt/placecode"))
    a = sub.add_parser("apply", help="update from the gateway, roll back if unhealthy")
    a.add_argument("--gateway", required=True, help="e.g. http://192.168.1.2:8800")
    a.add_argument("--kiosk", required=True)
    a.add_argument("--root", type=Path, default=Path("/opt/placecode"))
    a.add_argument("--release", help="a release name; default: the gateway's latest")
    a.add_argument("--health-timeout", type=float, default=60.0)
    a.add_argument("--unit", default="placecode-kiosk.service")
    a.add_argument("--public-key", type=Path, default=Path("/etc/placecode/release-key.pub"))
    a.add_argument("--config", type=Path, default=Path("/etc/placecode/kiosk.toml"),
                   help="the kiosk's config: its broker login signs the calls to the gateway")
    r = sub.add_parser("recover", help="roll back an update cut short")
    r.add_argument("--root", type=Path, default=Path("/opt/placecode"))
    args = parser.parse_args(argv)
    logging.basicConfig(level="INFO", format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "build":
            print(build_bundle(args.source, args.out, args.signing_key))
        elif args.command == "install":
            data = args.bundle.read_bytes()
            verify(data, Path(str(args.bundle) + ".sha256").read_text(), None, None)
            name, _sw = unpack(data, args.root)
            changed = current_release(args.root) != name
            if changed:
                point_current(args.root, name)
            print(json.dumps({"release": name, "changed": changed}))
        elif args.command == "apply":
            key = args.public_key if args.public_key.exists() else None
            result = asyncio.run(apply(args.root, args.gateway.rstrip("/"),
                                       HealthCheck(args.gateway.rstrip("/"), args.kiosk),
                                       systemctl_restart(args.unit), args.release,
                                       args.health_timeout, key,
                                       gateway_options(args.config, args.gateway)))
            print(json.dumps(result))
            return 1 if result["result"] == "rolled_back" else 0
        elif args.command == "recover":
            print(json.dumps({"rolled_back_to": recover(args.root)}))
    except (UpdateError, httpx.HTTPError, OSError) as exc:
        print(f"update: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
