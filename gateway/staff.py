"""The site's staff list: which console users are staff, and the ID card each signs on with.

Kept on the gateway's own machine, like the users themselves (gateway/users.py): a stolen
console session cannot make itself staff. The ID number is read from standard input (not
the command line, which shell histories and `ps` keep), checked (GB 11643), and stored only
as a keyed hash, a masked form and the kiosks' card hash (gateway/duty.py); it is never
printed or logged.

    echo 410105199001011234 | python -m gateway.staff add --config gateway.toml wang
    python -m gateway.staff list --config gateway.toml
    python -m gateway.staff remove --config gateway.toml wang
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from pathlib import Path

from firmware import manual_id, schema
from gateway import duty, users
from gateway.personal import Pseudonymiser, mask


class StaffError(ValueError):
    pass


def _connect(db_path: Path) -> sqlite3.Connection:
    conn = users.connect(db_path)
    try:
        schema.migrate(conn, db_path, duty.COMPONENT)
    except BaseException:
        conn.close()
        raise
    return conn


def add_staff(db_path: Path, pseudonym_key: str, user: str, id_text: str) -> str:
    """Register (or replace) `user`'s staff card; returns its masked number."""
    try:
        number = manual_id.id_number(id_text)
    except manual_id.ManualIdError as exc:
        raise StaffError(f"ID number: {exc.message}") from None
    conn = _connect(db_path)
    try:
        row = conn.execute("SELECT role, disabled FROM console_users WHERE name=?",
                           (user,)).fetchone()
        if row is None or row[1]:
            raise StaffError(f"no console user {user!r} (add one with python -m gateway.users)")
        if row[0] not in ("duty", "manager"):
            raise StaffError(f"{user} is a {row[0]}: only duty and manager users stand at doors")
        subject = Pseudonymiser(pseudonym_key).subject("id_card", number)
        masked = mask("id_card", number)
        try:
            conn.execute(
                "INSERT INTO duty_staff (user, subject, card, masked, added_ms) "
                "VALUES (?,?,?,?,?) ON CONFLICT(user) DO UPDATE SET subject=excluded.subject, "
                "card=excluded.card, masked=excluded.masked, added_ms=excluded.added_ms",
                (user, subject, duty.card_hash(duty.card_salt(pseudonym_key), number), masked,
                 int(time.time() * 1000)))
        except sqlite3.IntegrityError:
            raise StaffError("this ID card is already registered to another user") from None
        return masked
    finally:
        conn.close()


def remove_staff(db_path: Path, user: str) -> bool:
    conn = _connect(db_path)
    try:
        return conn.execute("DELETE FROM duty_staff WHERE user=?", (user,)).rowcount > 0
    finally:
        conn.close()


def list_staff(db_path: Path) -> list[tuple[str, str]]:
    conn = _connect(db_path)
    try:
        return conn.execute("SELECT user, masked FROM duty_staff ORDER BY user").fetchall()
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway.staff")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in ("add", "remove", "list"):
        p = sub.add_parser(command)
        p.add_argument("--config", type=Path, required=True, help="the gateway's TOML config")
        if command != "list":
            p.add_argument("user", help="the console user's name")
    args = parser.parse_args(argv)
    try:
        from gateway import config as gateway_config

        cfg = gateway_config.load(args.config)
        if args.command == "list":
            for user, masked in list_staff(cfg.db_path):
                print(f"{user}\t{masked}")
            return 0
        if args.command == "remove":
            gone = remove_staff(cfg.db_path, args.user)
            print(f"{args.user}: {'removed' if gone else 'was not staff'}")
            return 0
        print("身份证号 ID number (one line on standard input):", file=sys.stderr)
        typed = sys.stdin.readline().strip()
        masked = add_staff(cfg.db_path, cfg.pseudonym_key, args.user, typed)
    except (StaffError, sqlite3.Error, schema.SchemaError) as exc:
        print(f"gateway.staff: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a bad config path and the like
        print(f"gateway.staff: {exc}", file=sys.stderr)
        return 2
    print(f"{args.user}: staff card {masked} saved")
    return 0


if __name__ == "__main__":
    sys.exit(main())
