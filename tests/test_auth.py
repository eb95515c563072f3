"""Sign-in, roles, sessions, CSRF and the audit log, against a real gateway process."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time

import httpx
import pytest

from gateway import users
from simulators.processes import ROOT
from tests.conftest import TEST_USERS, sign_in
from tests.test_console_site import running_site

PRIVATE = ["/api/entries", "/api/kiosks", "/api/alerts", "/api/counts", "/api/report",
           "/api/audit", "/api/me"]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with running_site(tmp_path_factory.mktemp("auth")) as running:
        yield running


@pytest.fixture
def gateway(site) -> str:
    return site.url


@pytest.fixture
def tmp_path(site):
    return site.db.parent


async def test_nothing_personal_without_sign_in_but_the_page_and_health(gateway):
    async with httpx.AsyncClient(base_url=gateway, timeout=5) as http:
        for path in PRIVATE + ["/api/summary"]:
            assert (await http.get(path)).status_code == 401, path
        live = await http.get("/api/live")
        assert live.status_code == 401
        trace = await http.post("/api/trace/person", json={
            "kind": "id_card", "value": "41010219800101001X", "from_ms": 0, "to_ms": 1})
        assert trace.status_code == 401
        assert (await http.get("/healthz")).json()["ok"] is True
        assert "场所码" in (await http.get("/")).text


async def test_wrong_password_is_refused_and_audited(gateway):
    async with httpx.AsyncClient(base_url=gateway, timeout=5) as http:
        bad = await http.post(
            "/api/sign-in", json={"name": "test-duty", "password": "nope-nope-nope"}
        )
        nobody = await http.post(
            "/api/sign-in", json={"name": "nobody", "password": "whatever-123"}
        )
        assert bad.status_code == nobody.status_code == 401
        assert "pc_session" not in http.cookies
        await sign_in(http, gateway, "manager")
        rows = (await http.get("/api/audit")).json()["rows"]
    failed = [r["user"] for r in rows if r["action"] == "sign_in_failed"]
    assert {"nobody", "test-duty"} <= set(failed)
    assert "nope-nope-nope" not in str(rows)


@pytest.mark.parametrize("role, allowed, refused", [
    ("duty", ["/api/entries", "/api/kiosks", "/api/alerts", "/api/counts"],
     ["/api/audit", "/api/report"]),
    ("manager", ["/api/entries", "/api/kiosks", "/api/audit", "/api/report", "/api/counts"], []),
    ("tracer", [], ["/api/entries", "/api/kiosks", "/api/alerts", "/api/audit", "/api/counts"]),
])
async def test_each_role_sees_what_it_may(gateway, role, allowed, refused):
    async with httpx.AsyncClient(base_url=gateway, timeout=5) as http:
        me = await sign_in(http, gateway, role)
        assert me["role"] == role and me["user"] == TEST_USERS[role][0]
        for path in allowed:
            assert (await http.get(path)).status_code == 200, path
        for path in refused:
            assert (await http.get(path)).status_code == 403, path
        trace = await http.post("/api/trace/door", headers={"X-CSRF-Token": me["csrf"]},
                                json={"door": "door-1", "from_ms": 0, "to_ms": 1000})
        assert trace.status_code == (200 if role == "tracer" else 403)


async def test_changes_need_the_csrf_token(gateway):
    async with httpx.AsyncClient(base_url=gateway, timeout=5) as http:
        me = await sign_in(http, gateway, "tracer")
        body = {"door": "door-1", "from_ms": 0, "to_ms": 1000}
        assert (await http.post("/api/trace/door", json=body)).status_code == 403
        wrong = await http.post("/api/trace/door", json=body, headers={"X-CSRF-Token": "x" * 32})
        assert wrong.status_code == 403
        ok = await http.post("/api/trace/door", json=body, headers={"X-CSRF-Token": me["csrf"]})
        assert ok.status_code == 200


async def test_session_expires_and_sign_out_ends_it(gateway, tmp_path):
    async with httpx.AsyncClient(base_url=gateway, timeout=5) as http:
        await sign_in(http, gateway, "duty")
        assert (await http.get("/api/entries")).status_code == 200
        with sqlite3.connect(tmp_path / "gateway.sqlite", timeout=5) as db:
            db.execute("UPDATE console_sessions SET expires_ms = 1")  # time passes
        assert (await http.get("/api/entries")).status_code == 401

        me = await sign_in(http, gateway, "duty")
        out = await http.post("/api/sign-out", headers={"X-CSRF-Token": me["csrf"]})
        assert out.status_code == 200
        assert (await http.get("/api/entries")).status_code == 401


async def test_passwords_are_argon2id_hashes_and_the_audit_log_cannot_be_edited(gateway, tmp_path):
    async with httpx.AsyncClient(base_url=gateway, timeout=5) as http:
        await sign_in(http, gateway, "manager")
        assert (await http.delete("/api/audit")).status_code == 405
        assert (await http.put("/api/audit", json={})).status_code == 405
    db = sqlite3.connect(tmp_path / "gateway.sqlite", timeout=5)
    try:
        for name, pw_hash in db.execute("SELECT name, pw_hash FROM console_users"):
            assert pw_hash.startswith("$argon2id$")
            assert TEST_USERS[next(r for r, (n, _p) in TEST_USERS.items() if n == name)][1] \
                not in pw_hash
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute("UPDATE console_audit SET user='someone-else'")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute("DELETE FROM console_audit")
        sign_ins = db.execute("SELECT count(*) FROM console_audit WHERE action='sign_in'")
        assert sign_ins.fetchone()[0] >= 1
    finally:
        db.close()


def test_users_cli_adds_a_user_and_refuses_bad_input(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "g.sqlite"
    cli = [sys.executable, "-m", "gateway.users", "add", "--db", str(path), "li-ming", "tracer",
           "--password-stdin"]
    short = subprocess.run(
        cli, check=False, input="short\n", capture_output=True, text=True, cwd=ROOT
    )
    assert short.returncode == 2 and "at least 10" in short.stderr
    assert users.list_users(path) == []
    ok = subprocess.run(
        cli, check=False, input="a-long-password\n", capture_output=True, text=True, cwd=ROOT
    )
    assert ok.returncode == 0, ok.stderr
    assert users.list_users(path) == [("li-ming", "tracer", 0)]
    with pytest.raises(users.UserError):
        users.add_user(path, "li ming", "duty", "long-enough-pw")
    with pytest.raises(users.UserError):
        users.add_user(path, "liming", "admin", "long-enough-pw")
    users.add_user(path, "liming", "duty", "long-enough-pw")
    assert users.list_users(path) == [("li-ming", "tracer", 0), ("liming", "duty", 0)]


async def test_guessing_passwords_locks_the_name(gateway):
    async with httpx.AsyncClient(base_url=gateway, timeout=10) as http:
        codes = [
            (await http.post(
                "/api/sign-in", json={"name": "guessed", "password": f"guess-{n}"}
            )).status_code
            for n in range(6)
        ]
    assert codes == [401] * 5 + [429]


async def test_the_live_feed_ends_when_the_session_does(gateway):
    from gateway import live

    async with httpx.AsyncClient(base_url=gateway, timeout=30) as http:
        me = await sign_in(http, gateway, "duty")
        async with http.stream("GET", "/api/live") as stream:
            assert stream.status_code == 200
            lines = stream.aiter_lines()
            assert await anext(lines) == "retry: 1000"
            await http.post("/api/sign-out", headers={"X-CSRF-Token": me["csrf"]})
            started = time.monotonic()
            rest = [line async for line in lines]  # the server closes the stream
        assert time.monotonic() - started < live.HEARTBEAT_S + 5
        assert not any(line.startswith("event: entry") for line in rest)
