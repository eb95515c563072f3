"""`python -m provisioning ...`: what an installer or a district clerk types.

Every command prints what it did in one or two lines and exits non-zero with a message
that says what to fix. The site's settings are written once by `site-init` into
<site-dir>/site.json, so later commands on that site need no repeated options.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import asdict
from pathlib import Path

from firmware.schema import SchemaError
from provisioning import categories, csv_io, enrol, tls, upload, venue_code
from provisioning.broker_files import BrokerControl
from provisioning.registry import InvalidVenue, Registry, RegistryError, build_venue

DEFAULT_DB = Path("var/provisioning/register.db")
DEFAULT_SITE = Path("var/provisioning/site")


def _site(args: argparse.Namespace) -> enrol.SiteSetup:
    path = args.site_dir / "site.json"
    if not path.exists():
        raise enrol.EnrolError(f"{path} missing: run `python -m provisioning site-init` first")
    raw = json.loads(path.read_text())
    return enrol.SiteSetup(**{**raw, "dir": Path(raw["dir"])})


def _control(args: argparse.Namespace) -> BrokerControl | None:
    if args.broker_pid:
        return BrokerControl(pid=args.broker_pid)
    if args.broker_pid_file:
        return BrokerControl(pid_file=args.broker_pid_file)
    if args.reload_command:
        return BrokerControl(command=tuple(shlex.split(args.reload_command)))
    return None


def _enrolment(args: argparse.Namespace, registry: Registry) -> enrol.Enrolment:
    return enrol.Enrolment(registry, _site(args), _control(args))


def cmd_categories(args: argparse.Namespace, _registry: Registry) -> None:
    """Grouped as the notice groups them, each with its supervising department."""
    for group, (zh, en) in categories.GROUPS.items():
        print(f"{zh} / {en}")
        for c in categories.CATEGORIES.values():
            if c.group != group:
                continue
            marks = ("  哨点 sentinel" if c.sentinel else "") + ("  (plate)" if c.moving else "")
            dept = categories.DEPARTMENTS[c.department][0]
            print(f"  {c.key:20} {c.zh}\t{c.en}\t[{dept}]{marks}")


def cmd_import(args: argparse.Namespace, registry: Registry) -> int:
    report = csv_io.import_csv(registry, args.file)
    print(report.summary())
    for bad in report.bad[:20]:
        print(f"  line {bad.line}: {bad.code or '-'}: {bad.reason}")
    if len(report.bad) > 20:
        print(f"  ... {len(report.bad) - 20} more")
    for row in report.incomplete[:20]:
        print(f"  line {row.line}: {row.code}: {row.reason}")
    if len(report.incomplete) > 20:
        print(f"  ... {len(report.incomplete) - 20} more incomplete")
    if args.report:
        csv_io.write_report(report, args.report)
        print(f"bad rows written to {args.report}")
    return 1 if report.bad else 0


def cmd_export(args: argparse.Namespace, registry: Registry) -> None:
    print(f"{csv_io.export_csv(registry, args.file)} venues written to {args.file}")


def cmd_add(args: argparse.Namespace, registry: Registry) -> None:
    fields = {k: v for k, v in vars(args).items() if k in csv_io.COLUMNS and v is not None}
    venue = registry.put(build_venue(fields))
    print(f"venue {venue.code} {venue.name}: doors {', '.join(d.code for d in venue.doors)}")


def cmd_show(args: argparse.Namespace, registry: Registry) -> int:
    venue = registry.get(args.venue.upper())
    if venue is None:
        print(f"venue {args.venue} is not registered", file=sys.stderr)
        return 1
    print(json.dumps(asdict(venue), ensure_ascii=False, indent=2))
    for child in registry.children(venue.code):
        print(f"  inside: {child}")
    return 0


def cmd_poster(args: argparse.Namespace, registry: Registry) -> int:
    from provisioning.poster import make_poster  # Pillow and fonts only when needed

    venue = registry.get(args.venue.upper())
    if venue is None:
        print(f"venue {args.venue} is not registered", file=sys.stderr)
        return 1
    doors = [d for d in venue.doors if args.door is None or d.code == args.door.upper()]
    if not doors:
        print(f"venue {venue.code} has no door {args.door}", file=sys.stderr)
        return 1
    for door in doors:
        files = make_poster(venue, door, args.out, args.base)
        print(f"{door.code} {door.name}: {files.png} {files.pdf}  ({files.content})")
    return 0


def cmd_site_init(args: argparse.Namespace, registry: Registry) -> None:
    setup = enrol.SiteSetup(
        name=args.site, dir=args.site_dir.resolve(), broker_host=args.hosts[0],
        broker_port=args.port, tls=not args.no_tls, install_dir=args.install_dir,
    )  # fmt: skip
    args.site_dir.mkdir(parents=True, exist_ok=True)
    raw = {**asdict(setup), "dir": str(setup.dir)}
    (args.site_dir / "site.json").write_text(json.dumps(raw, indent=2) + "\n")
    section = enrol.Enrolment(registry, setup, _control(args)).init_site(args.hosts)
    print(f"site {setup.name}: broker files in {setup.passwd.parent}, TLS in {setup.tls_dir}")
    print(f"gateway broker credentials: {section}")


def cmd_console_cert(args: argparse.Namespace, _registry: Registry) -> int:
    tls_dir = args.site_dir / "tls"
    if not (tls_dir / "ca.pem").exists():
        if not args.site:
            print(f"no site CA in {tls_dir}: give --site to create it", file=sys.stderr)
            return 2
        tls.create_ca(tls_dir, args.site)  # site-init uses it for the broker later
    files = tls.issue_console(tls_dir, args.hosts, args.out)
    print(f"gateway HTTPS certificate {files.cert}, key {files.key} (http.tls_cert, "
          "http.tls_key in gateway.toml; the key readable by the gateway's group only)")
    return 0


def cmd_broker_lines(args: argparse.Namespace, registry: Registry) -> None:
    print(_enrolment(args, registry).auth_lines(args.tls_port, args.bind))


def cmd_enrol(args: argparse.Namespace, registry: Registry) -> None:
    e = _enrolment(args, registry)
    identity = e.enrol(args.venue.upper(), args.door.upper(), args.kind)
    told = (
        "broker reloaded"
        if e.broker
        else "broker NOT reloaded (give --broker-pid or --reload-command)"
    )
    print(f"kiosk {identity.kiosk} for door {identity.venue}/{identity.door}; {told}")
    print(f"SD card bundle: {identity.bundle_dir}  ({identity.tarball})")


def cmd_revoke(args: argparse.Namespace, registry: Registry) -> None:
    told = _enrolment(args, registry).revoke(args.kiosk)
    if told:
        print(f"kiosk {args.kiosk} revoked; the broker dropped it")
    else:
        print(
            f"kiosk {args.kiosk} revoked in the files;"
            " RELOAD THE BROKER NOW (systemctl reload mosquitto)"
        )


def cmd_kiosks(args: argparse.Namespace, registry: Registry) -> None:
    for k in _enrolment(args, registry).kiosks():
        print(f"{k['kiosk']:32} {k['kind']:6} {k['venue']}/{k['door']:8} {k['state']}")


def cmd_enrol_code(args: argparse.Namespace, registry: Registry) -> None:
    code = _enrolment(args, registry).issue_code(args.venue.upper(), args.door.upper(), args.ttl)
    print(
        f"enrolment code {code} (door {args.venue}/{args.door}, valid {args.ttl // 60} min, once)"
    )


def cmd_redeem(args: argparse.Namespace, registry: Registry) -> None:
    identity = _enrolment(args, registry).redeem(args.code)
    path = enrol.unpack(enrol.bundle_bytes(identity), args.out)
    print(f"kiosk {identity.kiosk}: identity unpacked to {path}")


def cmd_upload(args: argparse.Namespace, registry: Registry) -> int:
    s = upload.upload(registry, args.url, batch=args.batch, everything=args.all, base=args.base)
    print(f"sent {s.sent} (created {s.created}, updated {s.updated}, unchanged {s.unchanged}),"
          f" {s.skipped} already up to date, {len(s.rejected)} rejected,"
          f" {s.held_back} incomplete held back")  # fmt: skip
    for r in s.rejected[:20]:
        print(f"  {r['code']}: {r['reason']}")
    return 1 if s.rejected else 0


def cmd_check_code(args: argparse.Namespace, _registry: Registry) -> int:
    try:
        code = venue_code.parse(args.content)
    except venue_code.VenueCodeError as exc:
        print(f"not a door code: {exc}")
        return 1
    print(f"venue {code.venue} door {code.door} ({code.short})")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m provisioning", description=__doc__.split("\n")[0])
    p.add_argument("--db", type=Path, default=DEFAULT_DB, help="register file (SQLite)")
    p.add_argument(
        "--site-dir",
        type=Path,
        default=DEFAULT_SITE,
        help="site folder (broker files, TLS, bundles)",
    )
    p.add_argument("--broker-pid", type=int, help="pid of the running mosquitto, to reload it")
    p.add_argument("--broker-pid-file", type=Path)
    p.add_argument("--reload-command", help='e.g. "systemctl reload mosquitto"')
    sub = p.add_subparsers(dest="command", required=True)

    def add(name: str, fn, help: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help)
        sp.set_defaults(fn=fn)
        return sp

    add("categories", cmd_categories, "list venue categories")
    sp = add("import-csv", cmd_import, "load a register CSV; bad rows are reported")
    sp.add_argument("file", type=Path)
    sp.add_argument("--report", type=Path, help="write the bad rows to this CSV")
    add("export-csv", cmd_export, "write the register as CSV").add_argument("file", type=Path)
    sp = add("add-venue", cmd_add, "add or update one venue")
    for column in csv_io.COLUMNS:
        sp.add_argument(f"--{column.replace('_', '-')}", dest=column)
    add("show", cmd_show, "show one venue").add_argument("venue")
    sp = add("poster", cmd_poster, "PNG + PDF poster per door")
    sp.add_argument("venue")
    sp.add_argument("--door")
    sp.add_argument("--out", type=Path, default=Path("var/provisioning/posters"))
    sp.add_argument("--base", default=venue_code.DEFAULT_BASE)
    sp = add("site-init", cmd_site_init, "site CA, server certificate, gateway broker user")
    sp.add_argument("--site", required=True, help="site name as in the MQTT topics")
    sp.add_argument(
        "--hosts", nargs="+", default=["127.0.0.1"], help="names/IPs kiosks use for the gateway"
    )
    sp.add_argument("--port", type=int, default=8883, help="TLS port kiosks connect to")
    sp.add_argument("--no-tls", action="store_true", help="kiosks on loopback only (demo)")
    sp.add_argument("--install-dir", default="/etc/placecode")
    sp = add("console-cert", cmd_console_cert, "HTTPS certificate for the gateway's console")
    sp.add_argument("--hosts", nargs="+", required=True, help="names/IPs of the gateway")
    sp.add_argument("--out", type=Path, help="folder for console.pem/console.key (default: TLS)")
    sp.add_argument("--site", help="site name, to create the site CA if there is none yet")
    sp = add("broker-lines", cmd_broker_lines, "mosquitto config lines for this site")
    sp.add_argument("--tls-port", type=int, default=8883)
    sp.add_argument("--bind", default="0.0.0.0")
    sp = add("enrol", cmd_enrol, "new kiosk identity for one door + SD-card bundle")
    sp.add_argument("venue")
    sp.add_argument("door")
    sp.add_argument("--kind", choices=enrol.KINDS, default="kiosk",
                    help="shop: the microcontroller shop door unit (bundle: shop.json)")
    add("revoke", cmd_revoke, "remove a kiosk's access now").add_argument("kiosk")
    add("kiosks", cmd_kiosks, "list kiosks of the site")
    sp = add("enrol-code", cmd_enrol_code, "one-time enrolment code for a door")
    sp.add_argument("venue")
    sp.add_argument("door")
    sp.add_argument("--ttl", type=int, default=enrol.CODE_TTL_S)
    sp = add("redeem", cmd_redeem, "redeem an enrolment code into a folder")
    sp.add_argument("code")
    sp.add_argument("--out", type=Path, required=True)
    sp = add("upload", cmd_upload, "upload venue registrations to the platform")
    sp.add_argument("--url", default="http://127.0.0.1:8700")
    sp.add_argument("--batch", type=int, default=500)
    sp.add_argument("--all", action="store_true", help="resend venues already uploaded")
    sp.add_argument("--base", default=venue_code.DEFAULT_BASE)
    add("check-code", cmd_check_code, "read a door code (QR content or short form)").add_argument(
        "content"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        with Registry(args.db) as registry:
            return args.fn(args, registry) or 0
    except (
        InvalidVenue,
        RegistryError,
        enrol.EnrolError,
        csv_io.CsvFileError,
        upload.UploadError,
        SchemaError,
    ) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except FileExistsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
