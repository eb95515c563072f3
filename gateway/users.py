"""Console users: a name, one role, and a memory-hard password hash (Argon2id).

Users are added by whoever installs the gateway, on the gateway's own machine
(`python -m gateway.users add --config gateway.toml NAME ROLE`), never from the console:
a stolen console session cannot create itself a tracer. The table lives in the
gateway's database file; the CLI works whether the gateway runs or not.

    python -m gateway.users add --config gateway.toml wang duty   # asks for the password
    python -m gateway.users list --config gateway.toml
"""

from __future__ import annotations

import argparse
import getpass
import sqlite3
import sys
import time
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from firmware import schema

ROLES = ("duty", "manager", "tracer")
ROLE_NAMES = {"duty": "值班员 person on duty", "manager": "场所负责人 site manager",
              "tracer": "流调员 tracer (health authority)"}
MIN_PASSWORD = 10

SCHEMA = """
CREATE TABLE IF NOT EXISTS console_users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('duty', 'manager', 'tracer')),
    pw_hash TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0
);
"""
COMPONENT = schema.Component("console_users", SCHEMA)  # version 1; later: migrations

_hasher = PasswordHasher()  # Argon2id, 64 MiB, 3 passes: the library's RFC 9106 profile
# Verified against when the user does not exist, so a wrong name costs as long as a
# wrong password and sign-in timing does not reveal which names exist.
_DUMMY = _hasher.hash("not-a-password-of-anyone")


class UserError(ValueError):
    pass


def check_new(name: str, role: str, password: str) -> None:
    if not (1 <= len(name) <= 64) or not name.replace("-", "").replace("_", "").isalnum():
        raise UserError("name: 1-64 letters, digits, - or _")
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise UserError(f"password: at least {MIN_PASSWORD} characters")


def connect(db_path: Path) -> sqlite3.Connection:
    db_path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(db_path, isolation_level=None, timeout=5)
    try:
        schema.migrate(conn, db_path, COMPONENT)
        conn.execute("PRAGMA journal_mode=WAL")
    except BaseException:
        conn.close()
        raise
    return conn


def add_user(db_path: Path, name: str, role: str, password: str) -> None:
    """Add a user, or reset an existing user's role and password."""
    check_new(name, role, password)
    conn = connect(db_path)
    try:
        conn.execute(
            "INSERT INTO console_users (name, role, pw_hash, created_ms) VALUES (?,?,?,?) "
            "ON CONFLICT(name) DO UPDATE SET role=excluded.role, pw_hash=excluded.pw_hash, "
            "disabled=0",
            (name, role, _hasher.hash(password), int(time.time() * 1000)),
        )
    finally:
        conn.close()


def list_users(db_path: Path) -> list[tuple[str, str, int]]:
    conn = connect(db_path)
    try:
        return conn.execute(
            "SELECT name, role, disabled FROM console_users ORDER BY name").fetchall()
    finally:
        conn.close()


def verify(pw_hash: str | None, password: str) -> bool:
    """Constant-work check; runs in a worker thread (Argon2 takes tens of milliseconds)."""
    try:
        return _hasher.verify(pw_hash or _DUMMY, password) and pw_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def _db_path(args: argparse.Namespace) -> Path:
    if args.db:
        return args.db
    from gateway import config as gateway_config

    return gateway_config.load(args.config).db_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway.users")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in ("add", "list"):
        p = sub.add_parser(command)
        where = p.add_mutually_exclusive_group(required=True)
        where.add_argument("--config", type=Path, help="the gateway's TOML config")
        where.add_argument("--db", type=Path, help="the gateway's database file")
        if command == "add":
            p.add_argument("name")
            p.add_argument("role", choices=ROLES)
            p.add_argument("--password-stdin", action="store_true",
                           help="read the password from the first line of stdin")
    args = parser.parse_args(argv)
    try:
        path = _db_path(args)
        if args.command == "list":
            for name, role, disabled in list_users(path):
                print("\t".join([name, role] + (["disabled"] if disabled else [])))
            return 0
        if args.password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass("密码 password: ")
            if getpass.getpass("再输一次 again: ") != password:
                raise UserError("the two passwords differ")
        add_user(path, args.name, args.role, password)
    except (UserError, sqlite3.Error) as exc:
        print(f"gateway.users: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a bad config path and the like
        print(f"gateway.users: {exc}", file=sys.stderr)
        return 2
    print(f"user {args.name} ({ROLE_NAMES[args.role]}) saved")
    return 0


if __name__ == "__main__":
    sys.exit(main())
