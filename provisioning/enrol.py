"""Kiosk identities: one per kiosk, bound to one door, known to the broker, revocable.

一门一码 only means something if a kiosk cannot speak for another door. Each kiosk gets
its own MQTT username (= its kiosk name in the topics) and a random secret, and the
broker's ACL lets that username write only its own scan and status topics and read only
its own verdicts. The secret exists in clear only in the kiosk's bundle (SD card) or in
the one answer to a one-time enrolment code; the register keeps its hash.
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import shutil
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from firmware import protocol, schema
from provisioning import broker_files, tls
from provisioning.broker_files import BrokerControl, BrokerUser
from provisioning.registry import Registry
from provisioning.venue_code import door_id

SCHEMA = """
CREATE TABLE IF NOT EXISTS broker_users (
    username TEXT NOT NULL,
    site TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('gateway', 'kiosk')),
    venue TEXT,
    door TEXT,
    password_hash TEXT NOT NULL,
    cert_serial TEXT,
    state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'revoked')),
    created_at INTEGER NOT NULL,
    revoked_at INTEGER,
    PRIMARY KEY (site, username),
    FOREIGN KEY (venue, door) REFERENCES doors(venue, code)
);
CREATE TABLE IF NOT EXISTS enrol_codes (
    code_hash TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    venue TEXT NOT NULL,
    door TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER,
    kiosk TEXT
);
"""
# A kiosk's kind: the Pi kiosk, or the shop door unit (firmware/shop/). Version 2 adds
# the column; every kiosk of an older register is a Pi kiosk. Additive: a release that
# predates it still reads the file.
KINDS = ("kiosk", "shop")
KIND_COLUMN = (
    "ALTER TABLE broker_users ADD COLUMN kind TEXT NOT NULL DEFAULT 'kiosk'"
    " CHECK (kind IN ('kiosk', 'shop'))"
)
COMPONENT = schema.Component("enrolment", SCHEMA, migrations=(
    schema.Migration(2, KIND_COLUMN + ";"),
))
NAME_PREFIX = {"kiosk": "k", "shop": "s"}
GATEWAY_USER = "gateway"
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
CODE_TTL_S = 15 * 60


class EnrolError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class SiteSetup:
    """One site's broker as kiosks see it, and the folder its files live in."""

    name: str
    dir: Path
    broker_host: str = "127.0.0.1"
    broker_port: int = 8883
    tls: bool = True
    install_dir: str = "/etc/placecode"  # where the bundle's files sit on the kiosk
    data_dir: str = "/var/lib/placecode"

    @property
    def passwd(self) -> Path:
        return self.dir / "broker" / "passwd"

    @property
    def acl(self) -> Path:
        return self.dir / "broker" / "acl"

    @property
    def register(self) -> Path:
        """Kiosk -> door(s), for the gateway (gateway/kiosk_trust.py KioskRegister)."""
        return self.dir / "broker" / "kiosks.json"

    @property
    def tls_dir(self) -> Path:
        return self.dir / "tls"

    @property
    def bundles(self) -> Path:
        return self.dir / "bundles"


@dataclass(frozen=True, slots=True)
class KioskIdentity:
    kiosk: str
    site: str
    venue: str
    door: str
    secret: str
    bundle_dir: Path
    tarball: Path


def normalise_code(code: str) -> str:
    text = code.strip().upper().replace("-", "").replace(" ", "")
    return text.translate(str.maketrans("OIL", "011"))


def _code_hash(code: str) -> str:
    return hashlib.sha256(normalise_code(code).encode()).hexdigest()


def _toml(value: object) -> str:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else str(value)


class Enrolment:
    def __init__(
        self,
        registry: Registry,
        site: SiteSetup,
        broker: BrokerControl | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        protocol.check_name(site.name, "site")
        self.registry = registry
        self.site = site
        self.broker = broker
        self.clock = clock
        self.db = registry.db
        schema.migrate(self.db, registry.path, COMPONENT)

    # --- site -------------------------------------------------------------------------

    def init_site(self, hosts: list[str]) -> str:
        """CA and server certificate (if TLS), the gateway's broker user, the broker files.
        Returns the path of the gateway's [broker] section, holding its new secret."""
        if self.site.tls:
            # The CA may exist already: install-gateway makes it for the console's HTTPS.
            if not (self.site.tls_dir / "ca.pem").exists():
                tls.create_ca(self.site.tls_dir, self.site.name)
            if not (self.site.tls_dir / "server.pem").exists():
                tls.issue_server(self.site.tls_dir, hosts)
            if not (self.site.tls_dir / "console.pem").exists():
                tls.issue_console(self.site.tls_dir, hosts)
            self.write_crl()
        secret = broker_files.new_secret()
        now = int(self.clock())
        self.db.execute(
            "INSERT INTO broker_users (username, site, role, password_hash, created_at)"
            " VALUES (?, ?, 'gateway', ?, ?) ON CONFLICT(site, username) DO UPDATE SET"
            " password_hash = excluded.password_hash, state = 'active', revoked_at = NULL",
            (GATEWAY_USER, self.site.name, broker_files.hash_password(secret), now),
        )
        section = self.site.dir / "gateway-broker.toml"
        broker_files.write_atomic(
            section,
            "# Paste into the gateway's config file. The gateway connects on loopback.\n"
            f'[broker]\nhost = "127.0.0.1"\nport = 1883\nusername = "{GATEWAY_USER}"\n'
            f"password = {_toml(secret)}\n",
        )
        self.sync_broker()
        return str(section)

    def auth_lines(self, tls_port: int | None = None, bind: str = "0.0.0.0") -> str:
        """Lines for gateway/broker.py's `auth_lines`: the files, and the TLS listener."""
        lines = [f"password_file {self.site.passwd}", f"acl_file {self.site.acl}"]
        if self.site.tls and tls_port:
            if not (self.site.tls_dir / "crl.pem").exists():
                self.write_crl()
            lines.append(tls.listener_lines(self.site.tls_dir, tls_port, bind))
        return "\n".join(lines)

    def users(self, state: str | None = "active") -> list[BrokerUser]:
        query = "SELECT username, password_hash, role, kind FROM broker_users WHERE site = ?"
        args: tuple = (self.site.name,)
        if state:
            query += " AND state = ?"
            args += (state,)
        return [BrokerUser(*row) for row in self.db.execute(query + " ORDER BY username", args)]

    def register_json(self) -> str:
        """Every active kiosk and the door it was enrolled for (as scans name doors)."""
        rows = self.db.execute(
            "SELECT username, venue, door FROM broker_users WHERE site = ? AND role = 'kiosk'"
            " AND state = 'active' ORDER BY username", (self.site.name,))
        kiosks = {name: [door_id(venue, door)] for name, venue, door in rows}
        return json.dumps({"site": self.site.name, "kiosks": kiosks}, indent=1) + "\n"

    def write_crl(self) -> None:
        """The revocation list from the register: every revoked kiosk's certificate."""
        serials = [row[0] for row in self.db.execute(
            "SELECT cert_serial FROM broker_users WHERE site = ? AND state = 'revoked'"
            " AND cert_serial IS NOT NULL", (self.site.name,))]
        tls.write_crl(self.site.tls_dir, serials)

    def sync_broker(self) -> bool:
        """Rewrite password and ACL files from the table; reload the broker if we can."""
        users = self.users()
        broker_files.write_atomic(self.site.passwd, broker_files.password_file(users))
        broker_files.write_atomic(self.site.acl, broker_files.acl_file(self.site.name, users))
        broker_files.write_atomic(self.site.register, self.register_json())
        if self.broker is None:
            return False
        self.broker.reload()
        return True

    # --- kiosks -----------------------------------------------------------------------

    def enrol(self, venue: str, door: str, kind: str = "kiosk") -> KioskIdentity:
        """A new kiosk for one door: broker user, certificate, config, SD-card bundle.
        `kind` "shop": a shop door unit, whose bundle holds shop.json for the device."""
        if kind not in KINDS:
            raise EnrolError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
        self._check_door(venue, door)
        self.db.execute("BEGIN IMMEDIATE")
        try:
            identity = self._create(venue, door, kind)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.sync_broker()
        return identity

    def _check_door(self, venue: str, door: str) -> None:
        if self.registry.door(venue, door) is None:
            raise EnrolError(f"door {venue}/{door} is not registered")

    def _create(self, venue: str, door: str, kind: str = "kiosk") -> KioskIdentity:
        """Inside a transaction: the broker user row and the bundle on disk."""
        (count,) = self.db.execute(
            "SELECT count(*) FROM broker_users WHERE venue = ? AND door = ?", (venue, door)
        ).fetchone()
        prefix = NAME_PREFIX[kind]
        kiosk = protocol.check_name(f"{prefix}{venue}-{door}-{count + 1}".lower(), "kiosk")
        secret = broker_files.new_secret()
        bundle = self.site.bundles / kiosk
        if bundle.exists():
            shutil.rmtree(bundle)
        bundle.mkdir(parents=True, mode=0o700)
        serial = None
        if self.site.tls:
            shutil.copyfile(self.site.tls_dir / "ca.pem", bundle / "ca.pem")
            serial = tls.serial_of(tls.issue_client(self.site.tls_dir, kiosk, bundle).cert)
        self.db.execute(
            "INSERT INTO broker_users (username, site, role, kind, venue, door, password_hash,"
            " cert_serial, created_at) VALUES (?, ?, 'kiosk', ?, ?, ?, ?, ?, ?)",
            (kiosk, self.site.name, kind, venue, door, broker_files.hash_password(secret), serial,
             int(self.clock())),
        )  # fmt: skip
        if kind == "shop":
            broker_files.write_atomic(
                bundle / "shop.json", self._shop_config(kiosk, venue, door, secret))
            (bundle / "README.txt").write_text(_SHOP_README.format(kiosk=kiosk))
        else:
            broker_files.write_atomic(
                bundle / "kiosk.toml", self._config(kiosk, venue, door, secret))
            (bundle / "README.txt").write_text(
                _README.format(kiosk=kiosk, install=self.site.install_dir)
            )
        tarball = self.site.bundles / f"{kiosk}.tar.gz"
        broker_files.write_atomic(tarball, "")
        with tarfile.open(tarball, "w:gz") as tar:
            tar.add(bundle, arcname="placecode")
        return KioskIdentity(kiosk, self.site.name, venue, door, secret, bundle, tarball)

    def _config(self, kiosk: str, venue: str, door: str, secret: str) -> str:
        """The kiosk's config file, in firmware/kiosk/config.py's format."""
        v = self.registry.get(venue)
        d = self.registry.door(venue, door)
        assert v is not None and d is not None
        install = self.site.install_dir.rstrip("/")
        lines = [
            f"# PlaceCode kiosk {kiosk}: {v.name} / {d.name}",
            "# Holds this kiosk's broker secret: keep the card in the kiosk.",
            f"site = {_toml(self.site.name)}",
            f"kiosk = {_toml(kiosk)}",
            f"door = {_toml(door_id(venue, door))}",
            f"data_dir = {_toml(self.site.data_dir)}",
            "",
            "[broker]",
            f"host = {_toml(self.site.broker_host)}",
            f"port = {self.site.broker_port}",
            f"username = {_toml(kiosk)}",
            f"password = {_toml(secret)}",
        ]
        if self.site.tls:
            lines += [
                f"ca_file = {_toml(install + '/ca.pem')}",
                f"cert_file = {_toml(install + '/client.pem')}",
                f"key_file = {_toml(install + '/client.key')}",
            ]
        # the devices of a Pi kiosk (deploy/files/kiosk.toml.example); an installer removes
        # [reader] where the kiosk has none
        lines += [
            "",
            "[input]",
            'kind = "camera"',
            "",
            "[reader]",
            'port = "/dev/placecode-reader"',
            "",
            "[signal]",
            'kind = "board"',
            'port = "/dev/placecode-board"',
        ]
        return "\n".join(lines) + "\n"

    def _shop_config(self, unit: str, venue: str, door: str, secret: str) -> str:
        """The shop unit's /shop.json, in firmware/shop/app.py's format; Wi-Fi settings are
        added when it is written to the device (`just shop-deploy`)."""
        cfg: dict[str, object] = {
            "site": self.site.name,
            "unit": unit,
            "door": door_id(venue, door),
            "host": self.site.broker_host,
            "port": self.site.broker_port,
            "username": unit,
            "password": secret,
        }
        if self.site.tls:  # DER copies of the bundle's PEM files, made by `just shop-deploy`
            cfg["tls"] = {"ca": "/ca.der", "cert": "/client.der", "key": "/client.key.der"}
        return json.dumps(cfg, ensure_ascii=False, indent=1) + "\n"

    def revoke(self, kiosk: str) -> bool:
        """Remove a kiosk's access; returns whether the running broker was told (then the
        kiosk is disconnected now, not at its next reconnect)."""
        cursor = self.db.execute(
            "UPDATE broker_users SET state = 'revoked', revoked_at = ? WHERE username = ?"
            " AND site = ? AND role = 'kiosk' AND state = 'active'",
            (int(self.clock()), kiosk, self.site.name),
        )
        if cursor.rowcount != 1:
            raise EnrolError(f"no active kiosk {kiosk} at site {self.site.name}")
        bundle = self.site.bundles / kiosk
        shutil.rmtree(bundle, ignore_errors=True)
        (self.site.bundles / f"{kiosk}.tar.gz").unlink(missing_ok=True)
        if self.site.tls and (self.site.tls_dir / "ca.key").exists():
            self.write_crl()  # its certificate fails the TLS handshake from the reload on
        return self.sync_broker()

    def kiosks(self) -> list[dict[str, object]]:
        rows = self.db.execute(
            "SELECT username, kind, venue, door, state, created_at, revoked_at FROM broker_users"
            " WHERE site = ? AND role = 'kiosk' ORDER BY username",
            (self.site.name,),
        )
        keys = ("kiosk", "kind", "venue", "door", "state", "created_at", "revoked_at")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    # --- one-time enrolment codes -----------------------------------------------------

    def issue_code(self, venue: str, door: str, ttl_s: int = CODE_TTL_S) -> str:
        """A code like 7K3M-Q9PX for the console to show; good once, for `ttl_s` seconds."""
        self._check_door(venue, door)
        raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
        now = int(self.clock())
        self.db.execute(
            "INSERT INTO enrol_codes (code_hash, site, venue, door, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (_code_hash(raw), self.site.name, venue, door, now, now + ttl_s),
        )
        return f"{raw[:4]}-{raw[4:]}"

    def redeem(self, code: str) -> KioskIdentity:
        """The identity for a fresh kiosk presenting a code. A valid code is spent in the
        same transaction that creates the kiosk; unknown, used and expired codes all get
        the same error, so a guesser learns nothing."""
        now = int(self.clock())
        self.db.execute("BEGIN IMMEDIATE")
        try:
            row = self.db.execute(
                "SELECT venue, door FROM enrol_codes WHERE code_hash = ? AND site = ?"
                " AND used_at IS NULL AND expires_at > ?",
                (_code_hash(code), self.site.name, now),
            ).fetchone()
            if row is None:
                raise EnrolError("enrolment code unknown, used or expired")
            identity = self._create(*row)
            self.db.execute(
                "UPDATE enrol_codes SET used_at = ?, kiosk = ? WHERE code_hash = ?",
                (now, identity.kiosk, _code_hash(code)),
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.sync_broker()
        return identity


_SHOP_README = """PlaceCode shop unit {kiosk}

中文：用 USB 线连接门店终端，执行 `just shop-deploy <串口> <本文件夹> <WiFi名称> <WiFi密码>`，
把固件、shop.json（含密钥）和证书写入设备。完成后从电脑删除本文件夹。设备丢失时请在网关执行
`python -m provisioning revoke {kiosk}`。

English: connect the unit by USB and run `just shop-deploy <port> <this folder> <Wi-Fi name>
<Wi-Fi password>`: it writes the firmware, shop.json (with the unit's secret) and the
certificates to the device. Delete this folder from the computer afterwards. If the unit is
lost, run `python -m provisioning revoke {kiosk}`.
"""


def bundle_bytes(identity: KioskIdentity) -> bytes:
    """The bundle tarball, as the console hands it to a kiosk that redeemed a code."""
    return identity.tarball.read_bytes()


def unpack(data: bytes, dest: Path) -> Path:
    """On the kiosk: put a received bundle in place (refusing paths outside `dest`)."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        tar.extractall(dest, filter="data")
    return dest / "placecode"


_README = """PlaceCode kiosk {kiosk}

中文：把本文件夹 placecode/ 的全部文件复制到 SD 卡的 {install}/ 目录，插入信息亭后上电。
本文件夹包含该信息亭的密钥：复制完成后从电脑删除本文件夹。信息亭丢失时请在网关执行
`python -m provisioning revoke {kiosk}`。

English: copy every file of this placecode/ folder to {install}/ on the SD card, insert
it into the kiosk and power it on. The folder holds the kiosk's secret: delete it from
the computer afterwards. If the kiosk is lost, run `python -m provisioning revoke {kiosk}`.
"""
