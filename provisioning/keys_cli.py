"""Command line of the key tool (`python -m provisioning.keys …`, `just signing-keys …`):
make root and issuer keys, sign test codes, sign trust and red lists, for demos and tests.

Private keys are written owner-only (0600); nothing secret is printed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from firmware.kiosk.check_code import parse_time
from firmware.signed import trustlist
from provisioning import keys


def _with(prefix: Path, suffix: str) -> Path:
    return prefix.parent / (prefix.name + suffix)


def _root(args: argparse.Namespace) -> int:
    key = keys.new_private_key(args.alg)
    out = Path(args.out)
    keys.write_secret(_with(out, ".key.pem"), keys.private_pem(key))
    _with(out, ".pub.pem").write_bytes(keys.public_pem(key))
    kid = keys.key_id(key.public_key()).hex()
    print(json.dumps({"root": str(_with(out, ".pub.pem")), "kid": kid}))
    return 0


def _issuer(args: argparse.Namespace) -> int:
    usage = args.usage.split(",") if args.usage else None
    start = parse_time(args.not_before) if args.not_before else None
    issuer = keys.new_issuer(args.country, args.alg, usage, start, args.days, args.name)
    out = Path(args.out)
    keys.write_secret(_with(out, ".key.pem"), keys.private_pem(issuer.private_key))
    cert_pem = issuer.certificate.public_bytes(serialization.Encoding.PEM)
    _with(out, ".crt.pem").write_bytes(cert_pem)
    print(json.dumps({"cert": str(_with(out, ".crt.pem")), "kid": issuer.kid.hex()}))
    return 0


def _code(args: argparse.Namespace) -> int:
    issuer = keys.load_issuer(Path(args.key), Path(args.cert))
    iat = parse_time(args.iat) if args.iat else time.time()
    exp = parse_time(args.exp) if args.exp else iat + args.days * 86400
    dcc = keys.sample_dcc(args.type, args.family, args.given, args.dob)
    text = keys.sign_code(issuer, dcc, iat, exp, args.iss, not args.kid_unprotected)
    if args.qr:
        import segno

        segno.make(text, error="q").save(args.qr, scale=args.scale, border=4)
    print(text)
    return 0


def _trust_list(args: argparse.Namespace) -> int:
    root = keys.load_private_key(Path(args.root_key))
    entries = []
    for cert_path in args.cert:
        # BER-encoded DSCs too (read leniently, checked strictly): see trustlist.key_from_der
        for blob in trustlist.certificate_blobs(Path(cert_path).read_bytes()):
            entries.append(trustlist.key_from_der(blob))
    issued = parse_time(args.issued) if args.issued else None
    doc = keys.sign_trust_list(root, args.site, args.version, entries, issued)
    Path(args.out).write_bytes(doc)
    print(json.dumps({"trust_list": args.out, "version": args.version, "keys": len(entries)}))
    return 0


def _red_list(args: argparse.Namespace) -> int:
    root = keys.load_private_key(Path(args.root_key))
    entries = [("uvci", v) for v in args.uvci] + [("id", v) for v in args.id]
    entries += [("sig", v) for v in args.sig]
    issued = parse_time(args.issued) if args.issued else None
    doc = keys.sign_red_list(root, args.site, args.version, entries, issued)
    Path(args.out).write_bytes(doc)
    print(json.dumps({"red_list": args.out, "version": args.version, "entries": len(entries)}))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="keys", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("root", help="site root key that signs trust and red lists")
    r.add_argument("--out", required=True, help="path prefix: writes .key.pem and .pub.pem")
    r.add_argument("--alg", default="ES256", choices=["ES256", "PS256"])
    r.set_defaults(run=_root)

    i = sub.add_parser("issuer", help="issuer key + self-signed DSC-style certificate")
    i.add_argument("--out", required=True, help="path prefix: writes .key.pem and .crt.pem")
    i.add_argument("--country", default="CN")
    i.add_argument("--alg", default="ES256", choices=["ES256", "PS256"])
    i.add_argument("--usage", help="comma list of v,t,r the key may sign (default: all)")
    i.add_argument("--not-before", help="certificate start (default: a day ago)")
    i.add_argument("--days", type=int, default=730)
    i.add_argument("--name", default="PlaceCode demo DSC")
    i.set_defaults(run=_issuer)

    c = sub.add_parser("code", help="sign a test code (prints HC1: text)")
    c.add_argument("--key", required=True)
    c.add_argument("--cert", required=True)
    c.add_argument("--type", default="v", choices=["v", "t", "r"])
    c.add_argument("--iat", help="issued at (default now)")
    c.add_argument("--exp", help="expires at (default iat + --days)")
    c.add_argument("--days", type=float, default=30)
    c.add_argument("--iss", default="CN")
    c.add_argument("--family", default="Zhang")
    c.add_argument("--given", default="Wei")
    c.add_argument("--dob", default="1990-01-01")
    c.add_argument("--kid-unprotected", action="store_true", help="kid in unprotected header")
    c.add_argument("--qr", help="also write a QR image (PNG/SVG by suffix)")
    c.add_argument("--scale", type=int, default=4)
    c.set_defaults(run=_code)

    t = sub.add_parser("trust-list", help="sign a trust list of issuer certificates")
    t.add_argument("--root-key", required=True)
    t.add_argument("--site", required=True)
    t.add_argument("--version", type=int, required=True)
    t.add_argument("--cert", action="append", default=[], help="issuer certificate PEM/DER")
    t.add_argument("--issued")
    t.add_argument("--out", required=True)
    t.set_defaults(run=_trust_list)

    d = sub.add_parser("red-list", help="sign a red list (identifiers are hashed)")
    d.add_argument("--root-key", required=True)
    d.add_argument("--site", required=True)
    d.add_argument("--version", type=int, required=True)
    d.add_argument("--uvci", action="append", default=[])
    d.add_argument("--id", action="append", default=[], help="ID-card number")
    d.add_argument("--sig", action="append", default=[], help="hex of a code's signature")
    d.add_argument("--issued")
    d.add_argument("--out", required=True)
    d.set_defaults(run=_red_list)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (OSError, ValueError) as exc:
        print(f"keys: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
