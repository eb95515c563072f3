"""`just read-card <port>`: the installer's check that a reader is wired up and reads cards.

Opens the port, checks the security module, waits for a card and prints what it read as
one JSON object. Names, numbers, addresses and birth dates are masked unless --unmasked is
given, because installers paste this output into tickets and chats. Exit status: 0 read,
2 no card within --wait, 3 reader or card error (message in Chinese and English).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

from firmware import privacy
from firmware.kiosk.idcard.driver import BAUD_RATES, SamReader
from firmware.kiosk.idcard.errors import IdCardError, ReaderDisconnected
from firmware.kiosk.idcard.status import StatusError


def _fail(code: int, zh: str, en: str, detail: str = "") -> int:
    print(json.dumps({"ok": False, "error": en, "错误": zh, "detail": detail}, ensure_ascii=False))
    return code


def read_one(reader: SamReader, wait: float, fingerprint: bool, unmasked: bool) -> dict:
    """Poll until a card is read or `wait` seconds pass; the JSON-ready result."""
    deadline = time.monotonic() + wait
    while True:
        data = reader.read_card(fingerprint)
        if data is not None:
            break
        if time.monotonic() >= deadline:
            raise TimeoutError
        time.sleep(0.05)
    card = data.record()
    out: dict = {
        "ok": True,
        "card": card.to_dict(masked=not unmasked),
        "photo_bytes": len(data.photo),
        "fingerprint_bytes": len(data.fingerprint),
    }
    if card.kind == "resident":
        try:
            address = reader.read_appended_address()
        except StatusError as exc:
            address = f"({exc.status.en})"
        if address and not unmasked:
            address = privacy.mask_address(address)
        out["appended_address"] = address
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="read-card", description=__doc__.split("\n\n")[0])
    parser.add_argument("port", help="serial port of the reader, e.g. /dev/ttyUSB0")
    parser.add_argument("--baud", type=int, default=115200, choices=BAUD_RATES)
    parser.add_argument("--wait", type=float, default=10.0, help="seconds to wait for a card")
    parser.add_argument(
        "--fingerprint", action="store_true", help="read with fingerprints (0x30 0x10)"
    )
    parser.add_argument(
        "--unmasked",
        action="store_true",
        help="print name, ID number and address in full (personal data!)",
    )
    args = parser.parse_args(argv)
    try:
        with SamReader(args.port, args.baud) as reader:
            reader.sam_status()
            sam_id = reader.sam_id()
            result = read_one(reader, args.wait, args.fingerprint, args.unmasked)
    except ReaderDisconnected as exc:
        return _fail(3, "无法打开读卡器串口", "cannot open the reader's serial port", str(exc))
    except TimeoutError:
        return _fail(2, "等待身份证超时，请放置身份证", "no card placed within the wait time")
    except StatusError as exc:
        return _fail(3, exc.status.zh, exc.status.en, f"{exc.command}: SW3 0x{exc.code:02X}")
    except IdCardError as exc:
        return _fail(3, "读卡失败", "reading failed", f"{type(exc).__name__}: {exc}")
    result["reader"] = {"port": args.port, "baud": args.baud, "sam_id": sam_id}
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
