"""The site's own certificate authority: broker server certificate, kiosk client certificates.

Kiosks talk to the gateway's broker over the building's network, where anyone can plug
in a laptop; plain MQTT is only allowed on loopback. Each site gets its own small CA
(no public CA issues certificates for a gateway at 192.168.1.10), the broker proves
itself with a server certificate from it, and each kiosk presents a client certificate
from it in addition to its password, so a stolen password alone is not enough from a
device the site did not provision. The CA key never leaves the provisioning machine.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_YEARS = 10
LEAF_YEARS = 3


@dataclass(frozen=True, slots=True)
class CertFiles:
    cert: Path
    key: Path


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _name(common: str, site: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "PlaceCode"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, site),
        x509.NameAttribute(NameOID.COMMON_NAME, common),
    ])  # fmt: skip


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)  # kiosk clocks drift


def create_ca(tls_dir: Path, site: str) -> CertFiles:
    """A new site CA in `tls_dir` (ca.pem, ca.key). Refuses to overwrite an existing one:
    replacing the CA would orphan every kiosk already installed."""
    files = CertFiles(tls_dir / "ca.pem", tls_dir / "ca.key")
    if files.cert.exists() or files.key.exists():
        raise FileExistsError(f"{files.cert} already exists; a site has one CA")
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(f"PlaceCode site CA {site}", site)
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=365 * CA_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_key(files.key, key)
    _write_cert(files.cert, cert)
    return files


def load_ca(tls_dir: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = x509.load_pem_x509_certificate((tls_dir / "ca.pem").read_bytes())
    key = serialization.load_pem_private_key((tls_dir / "ca.key").read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return cert, key


def _leaf(
    tls_dir: Path,
    common: str,
    usage: x509.ObjectIdentifier,
    sans: list[x509.GeneralName],
    out: CertFiles,
) -> CertFiles:
    ca_cert, ca_key = load_ca(tls_dir)
    key = ec.generate_private_key(ec.SECP256R1())
    site = ca_cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common, str(site)))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=365 * LEAF_YEARS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, True, False, False, False, False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    _write_key(out.key, key)
    _write_cert(out.cert, cert)
    return out


def _sans(hosts: list[str]) -> list[x509.GeneralName]:
    sans: list[x509.GeneralName] = []
    for host in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            sans.append(x509.DNSName(host))
    return sans


def issue_server(tls_dir: Path, hosts: list[str]) -> CertFiles:
    """The broker's certificate, valid for every name and address kiosks use to reach it."""
    out = CertFiles(tls_dir / "server.pem", tls_dir / "server.key")
    return _leaf(tls_dir, hosts[0], ExtendedKeyUsageOID.SERVER_AUTH, _sans(hosts), out)


def issue_console(tls_dir: Path, hosts: list[str], out_dir: Path | None = None) -> CertFiles:
    """The gateway's HTTPS certificate (console, kiosk time and updates): its own key, so
    the gateway's user never needs the broker's. Loopback is always among its names."""
    names = list(dict.fromkeys([*hosts, "127.0.0.1", "localhost"]))
    folder = out_dir or tls_dir
    out = CertFiles(folder / "console.pem", folder / "console.key")
    return _leaf(tls_dir, names[0], ExtendedKeyUsageOID.SERVER_AUTH, _sans(names), out)


def issue_client(tls_dir: Path, kiosk: str, out_dir: Path) -> CertFiles:
    """A kiosk's client certificate (CN = kiosk name), written into its bundle folder."""
    out = CertFiles(out_dir / "client.pem", out_dir / "client.key")
    return _leaf(tls_dir, kiosk, ExtendedKeyUsageOID.CLIENT_AUTH, [], out)


def write_crl(tls_dir: Path, serials: list[str]) -> Path:
    """The site's certificate revocation list (crl.pem), signed by the site CA, naming the
    revoked kiosks' certificate serials (hex). The broker's TLS listener reads it
    (`crlfile`): a revoked kiosk's certificate fails the handshake. It is valid as long as
    the CA, since an expired list would make the broker refuse every kiosk."""
    ca_cert, ca_key = load_ca(tls_dir)
    now = _now()
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now)
        .next_update(ca_cert.not_valid_after_utc)
    )
    for serial in sorted(set(serials)):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(int(serial, 16))
            .revocation_date(now).build()
        )
    crl = builder.sign(ca_key, hashes.SHA256())
    path = tls_dir / "crl.pem"
    tmp = path.with_name(".crl.pem.tmp")
    tmp.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    tmp.replace(path)
    return path


def serial_of(cert_file: Path) -> str:
    return format(x509.load_pem_x509_certificate(cert_file.read_bytes()).serial_number, "x")


def listener_lines(tls_dir: Path, port: int = 8883, bind: str = "0.0.0.0") -> str:
    """Mosquitto lines for the kiosks' TLS listener (after the loopback listener).

    A client must show a certificate from the site CA that is not on the site's
    revocation list (crl.pem, which `revoke` rewrites). Its certificate's CN is its
    username, whatever username and password it sends (Mosquitto then does not read
    the password file for this listener), so kiosk A's certificate always acts as A,
    within A's ACL, and can never log in as B. The username is also the client id, so
    no kiosk can take over another kiosk's session by reusing its client id.
    """
    return "\n".join([
        f"listener {port} {bind}",
        f"cafile {tls_dir / 'ca.pem'}",
        f"certfile {tls_dir / 'server.pem'}",
        f"keyfile {tls_dir / 'server.key'}",
        f"crlfile {tls_dir / 'crl.pem'}",
        "require_certificate true",
        "use_identity_as_username true",
        "use_username_as_clientid true",
        "tls_version tlsv1.2",
    ])  # fmt: skip
