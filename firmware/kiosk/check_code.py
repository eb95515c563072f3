"""`just check-code`: verify signed codes exactly as a kiosk would, for installers and
auditors, and print one JSON line per code.

The same verify() the kiosk runs is used, against a signed trust list (checked with the
site root key, as on the kiosk) or against issuer certificates given directly (PEM or
DER, e.g. a country's DSC). --at replays a decision at another moment, so "why was this
person refused last Tuesday" can be answered. Output holds the decoded claims (names,
birth dates): it goes to the terminal of the person who asked, never to a log.

Exit status: 0 all valid, 1 some invalid, 2 bad usage or unreadable input files.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from firmware.signed import redlist, trustlist
from firmware.signed.signedlist import DocumentError, open_document
from firmware.signed.trustlist import TrustList
from firmware.signed.verify import verify

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".pgm"}


class UsageError(Exception):
    pass


def parse_time(text: str) -> float:
    """Epoch seconds, or ISO 8601 (a time without offset is taken as UTC)."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--at {text!r} is neither epoch seconds nor ISO 8601") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat().replace("+00:00", "Z")


def _roots(path: str | None) -> list:
    if path is None:
        raise UsageError("--trust-list and --red-list need --root (the site root public key)")
    data = Path(path).read_bytes()
    try:
        return [serialization.load_pem_public_key(data)]
    except ValueError:
        raise UsageError(f"--root {path} is not a PEM public key") from None


def load_trust(args: argparse.Namespace) -> TrustList:
    keys: list[trustlist.TrustedKey] = []
    refused: dict[bytes, str] = {}
    version = 0
    if args.trust_list:
        header, body = _open(args.trust_list, _roots(args.root), trustlist.TYPE)
        listed = trustlist.parse(header, body)
        keys += listed.keys
        version = listed.version
    for cert_path in args.cert:
        # A certificate that cannot be used is not a usage error: the codes it signed get
        # the verdict bad_certificate with the reason, and the other certificates still count.
        try:
            blobs = trustlist.certificate_blobs(Path(cert_path).read_bytes())
        except trustlist.CertificateError as exc:
            print(f"check-code: --cert {cert_path}: {exc}", file=sys.stderr)
            continue
        for n, blob in enumerate(blobs, 1):
            try:
                keys.append(trustlist.key_from_der(blob))
            except trustlist.CertificateError as exc:
                label = cert_path if len(blobs) == 1 else f"{cert_path}#{n}"
                refused[trustlist.kid_of(blob)] = f"{label}: {exc}"
                print(f"check-code: --cert {label}: {exc}", file=sys.stderr)
    if not args.trust_list and not args.cert:
        raise UsageError("give --trust-list FILE --root PEM, or --cert FILE (PEM or DER)")
    return TrustList(version, tuple(keys), refused=refused)


def _open(path: str, roots: list, doc_type: str):
    try:
        return open_document(Path(path).read_bytes(), roots, doc_type, None)
    except DocumentError as exc:
        raise UsageError(f"{path} refused as the kiosk would: {exc}") from None


def load_red(args: argparse.Namespace) -> redlist.RedList | None:
    if not args.red_list:
        return None
    header, body = _open(args.red_list, _roots(args.root), redlist.TYPE)
    return redlist.parse(header, body)


def decode_image(path: Path) -> list[str]:
    """Every QR code text in an image (turned upright by its EXIF orientation), read with
    the kiosk camera's own decoder ladder (firmware/kiosk/decode.py)."""
    from firmware.kiosk.decode import Decoder, read_image

    grey, _ = read_image(path)
    return [code.text for code in Decoder().decode(grey).codes if code.text]


def inputs(items: list[str]) -> Iterator[tuple[str, str | None, str]]:
    """(label, code text or None, error) for each argument; '-' reads lines from stdin."""
    for n, item in enumerate(items, 1):
        path = Path(item)
        if item == "-":
            for k, line in enumerate(sys.stdin, 1):
                if line.strip():
                    yield f"stdin:{k}", line.strip(), ""
        elif not item.startswith("HC1:") and path.is_file():
            if path.suffix.lower() in IMAGE_SUFFIXES:
                try:
                    texts = decode_image(path)
                except (OSError, ValueError) as exc:
                    yield item, None, f"unreadable image: {exc}"
                    continue
                if not texts:
                    yield item, None, "no QR code found in the image"
                for k, text in enumerate(texts, 1):
                    yield f"{item}#{k}", text, ""
            else:
                yield item, path.read_text(errors="replace").strip(), ""
        elif path.suffix.lower() in IMAGE_SUFFIXES:
            yield item, None, "file not found"
        else:
            yield f"arg:{n}", item, ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="check-code", description="Verify HC1 signed codes as the kiosk would."
    )
    parser.add_argument("codes", nargs="+", help="code text, QR image file, text file or -")
    parser.add_argument("--trust-list", help="signed trust list (as on the kiosk)")
    parser.add_argument("--root", help="site root public key (PEM) for the signed lists")
    parser.add_argument("--cert", action="append", default=[], help="issuer certificate")
    parser.add_argument("--red-list", help="signed red list")
    parser.add_argument("--at", help="moment to check at: ISO 8601 or epoch seconds")
    args = parser.parse_args(argv)
    try:
        at = parse_time(args.at) if args.at else time.time()
        trust = load_trust(args)
        red = load_red(args)
    except (UsageError, OSError) as exc:
        print(f"check-code: {exc}", file=sys.stderr)
        return 2
    worst = 0
    for label, text, error in inputs(args.codes):
        if text is None:
            line = {"input": label, "valid": False, "reason": "no_code", "detail": error}
            worst = 2
        else:
            result = verify(text, trust, at=at, red_list=red)
            line = {"input": label, **result.to_json()}
            line["not_before"] = iso(result.not_before)
            line["not_after"] = iso(result.not_after)
            line["at"] = iso(at)
            if not result.valid:
                worst = max(worst, 1)
        print(json.dumps(line, ensure_ascii=False), flush=True)
    return worst


if __name__ == "__main__":
    raise SystemExit(main())
