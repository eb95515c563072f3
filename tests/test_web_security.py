"""The gateway's web side under attack, against a real gateway process serving HTTPS with a
site-CA certificate on every interface, called from the machine's own non-loopback address
(a client on the site network), and the console in real Chromium:

- without a session only the liveness check, the sign-in page and its assets answer; no
  API documentation; kiosk routes need the kiosk's broker login; /metrics a token;
- every response carries the CSP, framing, nosniff and referrer headers;
- the session cookie is Secure, HttpOnly, SameSite=Strict;
- 40 parallel wrong passwords, then the right one: refused with a back-off, which ends;
  a manager can end it sooner; the throttle's memory is bounded and keeps its locks;
- script in every field a kiosk sends (door, kiosk status, health, lists, names) never
  runs in the console, and inline script is refused by the CSP.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time

import httpx
import pytest
from playwright.async_api import async_playwright

from firmware import mqtt_client, protocol
from firmware.config_file import ConfigError, load_model
from firmware.kiosk.timesync import GatewayClock, gateway_client_options
from gateway import auth
from gateway.app import create_app
from gateway.config import GatewayConfig
from provisioning import broker_files, tls
from simulators import processes
from tests.conftest import SITE, TEST_USERS, launch_chromium, poll
from tests.test_console_site import running_site

KIOSK_SECRETS = {"kiosk-a": "secret-of-kiosk-a-0123456789",
                 "kiosk-b": "secret-of-kiosk-b-0123456789"}
METRICS_TOKEN = "metrics-token-0123456789abcdef"
BACKOFF_S = 2.0
WANTED_HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


def outside_address() -> str | None:
    """This machine's address on its network (what a tablet on the site LAN would reach)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.123", 9))  # no packet is sent: only the route is looked up
            address = s.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    address = outside_address()
    if address is None:
        pytest.skip("no non-loopback address on this machine")
    work = tmp_path_factory.mktemp("websec")
    tls.create_ca(work / "tls", SITE)
    cert = tls.issue_console(work / "tls", [address])
    passwd = work / "passwd"
    passwd.write_text(broker_files.password_file(
        broker_files.BrokerUser(name, broker_files.hash_password(secret), "kiosk")
        for name, secret in KIOSK_SECRETS.items()))
    http = {"host": "0.0.0.0", "tls_cert": str(cert.cert), "tls_key": str(cert.key),
            "kiosk_password_file": str(passwd), "metrics_token": METRICS_TOKEN}
    with running_site(work, http=http, ca_file=work / "tls" / "ca.pem",
                      sign_in_backoff_s=BACKOFF_S) as running:
        port = int(running.url.rsplit(":", 1)[1])
        running.outside = f"https://{address}:{port}"
        running.passwd = passwd
        yield running


def client(site, **options) -> httpx.AsyncClient:
    """A client on the site network: the gateway sees a non-loopback address."""
    return httpx.AsyncClient(base_url=site.outside, verify=site.verify, timeout=10, **options)


def check_headers(response: httpx.Response) -> None:
    where = f"{response.request.method} {response.request.url.path} -> {response.status_code}"
    for name, value in WANTED_HEADERS.items():
        assert response.headers.get(name) == value, (where, name, response.headers.get(name))
    csp = response.headers.get("content-security-policy", "")
    for directive in ("default-src 'none'", "script-src 'self'", "style-src 'self'",
                      "frame-ancestors 'none'"):
        assert directive in csp, (where, csp)
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "strict-transport-security" in response.headers, where


def all_routes(routes) -> list:
    """The app's routes, through included routers (none of the gateway's has a prefix)."""
    out = []
    for route in routes:
        original = getattr(route, "original_router", None)
        out += all_routes(original.routes) if original is not None else [route]
    return out


def route_samples(app) -> list[tuple[str, str, str]]:
    """(method, template, URL path) for every route of the app, path parameters filled."""
    values = {"kiosk": "kiosk-a", "filename": "placecode-1.0.0.tar.gz", "name": "console.js",
              "n": "1"}
    out = []
    for route in all_routes(app.routes):
        path = getattr(route, "path", None)
        for method in sorted(getattr(route, "methods", None) or ()):
            if method == "HEAD" or path is None:
                continue
            filled = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: values.get(m.group(1), "x"), path)
            out.append((method, path, filled))
    return out


async def test_without_a_session_only_liveness_and_the_sign_in_page_answer(site):
    cfg = load_model(site.work / "gateway.toml", GatewayConfig)
    samples = route_samples(create_app(cfg))
    assert {"/api/summary", "/metrics", "/api/update-status/{kiosk}", "/api/time"} <= \
        {template for _m, template, _p in samples}
    answered = set()
    async with client(site) as http:
        for method, template, path in samples:
            response = await http.request(method, path)
            check_headers(response)
            if response.is_success:
                answered.add(template)
        # The API documentation is not served at all.
        for path in ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"):
            response = await http.get(path)
            check_headers(response)
            assert response.status_code == 404, path
        page = await http.get("/")
        assert "script" not in re.sub(r'<script src="/static/[a-z0-9]+\.js"></script>', "",
                                      page.text), "no inline script in the page"
        assert " style=" not in page.text and "<style" not in page.text
    # The page and its static files carry no data; everything else needs someone.
    assert answered == {"/healthz", "/", "/static/{name}"}, answered


async def test_kiosk_routes_need_the_kiosks_broker_login(site):
    a = ("kiosk-a", KIOSK_SECRETS["kiosk-a"])
    async with client(site) as http:
        for path in ("/api/time", "/api/releases", "/api/update-status/kiosk-a"):
            assert (await http.get(path)).status_code == 401, path
            assert (await http.get(path, auth=("kiosk-a", "wrong"))).status_code == 401, path
            assert (await http.get(path, auth=("gateway", "x"))).status_code == 401, path
        assert (await http.get("/api/time", auth=a)).status_code == 200
        assert (await http.get("/api/releases", auth=a)).status_code == 200
        never_online = await http.get("/api/update-status/kiosk-a", auth=a)
        assert never_online.status_code == 404
        assert (await http.get("/api/update-status/kiosk-b", auth=a)).status_code == 403
        assert (await http.get("/api/summary", auth=a)).status_code == 401, "not a console login"

    # The kiosk's own code: its broker login and the site CA from its config.
    options = gateway_client_options(site.outside, *a, str(site.work / "tls" / "ca.pem"))
    clock = GatewayClock(site.outside, client_options=options)
    sample = await clock.sync(exchanges=2)
    assert abs(sample.gateway_ms - time.time() * 1000) < 5000
    # ... which never sends the login in clear to another host.
    assert "auth" not in gateway_client_options("http://192.0.2.9:8800", *a, None)

    # A kiosk revoked (gone from the broker's password file) is refused at once.
    saved = site.passwd.read_text()
    site.passwd.write_text("".join(line + "\n" for line in saved.splitlines()
                                   if not line.startswith("kiosk-a:")))
    try:
        async with client(site) as http:
            assert (await http.get("/api/time", auth=a)).status_code == 401
    finally:
        site.passwd.write_text(saved)

    # On loopback (the demo, a kiosk on the gateway machine) no login is needed.
    async with httpx.AsyncClient(base_url=site.url, verify=site.verify, timeout=10) as local:
        assert (await local.get("/api/time")).status_code == 200


async def test_metrics_need_loopback_or_the_token(site):
    async with client(site) as http:
        assert (await http.get("/metrics")).status_code == 401
        wrong = await http.get("/metrics", headers={"Authorization": "Bearer " + "x" * 30})
        assert wrong.status_code == 401
        right = await http.get("/metrics", headers={"Authorization": "Bearer " + METRICS_TOKEN})
        assert right.status_code == 200 and "placecode_mqtt_connected" in right.text
    async with httpx.AsyncClient(base_url=site.url, verify=site.verify, timeout=10) as local:
        assert (await local.get("/metrics")).status_code == 200


async def test_session_cookie_is_secure_httponly_and_strict(site):
    name, password = TEST_USERS["duty"]
    async with client(site) as http:
        response = await http.post("/api/sign-in", json={"name": name, "password": password})
        assert response.status_code == 200
        check_headers(response)
        cookie = response.headers["set-cookie"].lower()
    parts = [p.strip() for p in cookie.split(";")]
    for part in ("secure", "httponly", "samesite=strict", "path=/"):
        assert part in parts, (part, cookie)


def test_plain_http_is_refused_off_loopback(tmp_path):
    cfg = processes.gateway_config(tmp_path, SITE, 1883, "http://127.0.0.1:1")
    cfg["http"]["host"] = "0.0.0.0"
    path = processes.write_toml(tmp_path / "gateway.toml", cfg)
    with pytest.raises(ConfigError, match="plain HTTP only on loopback"):
        load_model(path, GatewayConfig)
    cfg["http"]["host"] = "127.0.0.1"
    load_model(processes.write_toml(tmp_path / "gateway.toml", cfg), GatewayConfig)


# --- sign-in throttle --------------------------------------------------------------------

async def test_parallel_guesses_are_refused_with_a_back_off_that_ends(site):
    name, password = TEST_USERS["duty"]
    async with client(site) as http:
        guesses = await asyncio.gather(*(
            http.post("/api/sign-in", json={"name": name, "password": f"guess-{n}"})
            for n in range(40)))
        codes = sorted(r.status_code for r in guesses)
        # Every attempt was counted before its hash: only the free ones were checked.
        assert codes == [401] * 5 + [429] * 35, codes
        right = await http.post("/api/sign-in", json={"name": name, "password": password})
        assert right.status_code == 429
        wait_s = int(right.headers["retry-after"])
        assert 1 <= wait_s <= BACKOFF_S + 1
        assert "pc_session" not in http.cookies
        await asyncio.sleep(wait_s + 0.2)
        # The back-off is over: the right password works (the wrong one doubles it).
        right = await http.post("/api/sign-in", json={"name": name, "password": password})
        assert right.status_code == 200, right.text


async def test_a_manager_can_end_a_back_off(site):
    name, password = TEST_USERS["tracer"]
    async with client(site) as http:
        for n in range(5):
            await http.post("/api/sign-in", json={"name": name, "password": f"guess-{n}"})
        locked = await http.post("/api/sign-in", json={"name": name, "password": password})
        assert locked.status_code == 429
    async with client(site) as manager:
        name_, password_ = TEST_USERS["manager"]
        me = (await manager.post("/api/sign-in",
                                 json={"name": name_, "password": password_})).json()
        refused = await manager.post(f"/api/users/{name}/unlock")
        assert refused.status_code == 403, "the CSRF token is needed"
        done = await manager.post(f"/api/users/{name}/unlock",
                                  headers={"X-CSRF-Token": me["csrf"]})
        assert done.json() == {"ok": True, "was_locked": True}
    async with client(site) as http:
        again = await http.post("/api/sign-in", json={"name": name, "password": password})
        assert again.status_code == 200
        tracer = await http.post(f"/api/users/{name}/unlock",
                                 headers={"X-CSRF-Token": again.json()["csrf"]})
        assert tracer.status_code == 403, "only a manager unlocks"


def test_throttle_memory_is_bounded_and_keeps_its_locks():
    throttle = auth.Throttle(free=2, base_ms=60_000, max_ms=600_000, max_keys=100)
    now = 1_000_000
    for n in range(50):
        for _ in range(2):
            throttle.admit([(("user", f"locked-{n}"), 2)], now)
    for n in range(5000):  # names guessed once each, at random
        throttle.admit([(("user", f"random-{n}"), 2)], now + n)
    assert len(throttle) <= 100
    for n in range(50):
        with pytest.raises(auth.Locked):
            throttle.admit([(("user", f"locked-{n}"), 2)], now + 6000)
    for n in range(50, 100):  # now full of locks: new names are refused, locks kept
        for _ in range(2):
            throttle.admit([(("user", f"locked-{n}"), 2)], now + 7000)
    with pytest.raises(auth.Locked):
        throttle.admit([(("user", "someone-new"), 2)], now + 8000)
    # The locks end by themselves, and the right password clears a name.
    later = now + 700_000
    throttle.admit([(("user", "locked-1"), 2)], later)
    throttle.succeeded([("user", "locked-1")])
    throttle.admit([(("user", "someone-new"), 2)], later)


# --- script from kiosks never runs in the console ------------------------------------------

PAYLOADS = ['<img src=x onerror="window.__pwned=1">', '"><svg onload=window.__pwned=2>',
            "</title><script>window.__pwned=3</script>"]


async def publish_hostile_kiosk(site) -> None:
    """What a compromised kiosk can send: markup in every free-text field."""
    door, door2, name = PAYLOADS
    kiosk = "kiosk-x"
    now = protocol.now_ms()
    address = mqtt_client.BrokerAddress(port=site.broker.port)
    async with mqtt_client.client(address, "hostile", persistent=False) as mqtt:
        status = protocol.status(kiosk, "online", now, sw=door2, outbox=0,
                                 health={"camera": door, "reader": door2, "board": name},
                                 lists={"trust_list": {"version": door, "age_s": door2}})
        await mqtt.publish(protocol.topic(SITE, kiosk, protocol.STATUS), json.dumps(status), qos=1)
        ids = protocol.EventIds()
        for seq, (door_name, credential) in enumerate(
                [(door, "41010219800101001X"), (door2, "41010219800101002X"),
                 (name, "https://hc.henan.example/yk/v1?t=" + name)], start=1):
            scan = protocol.scan(ids.new(), kiosk, door_name, seq, now + seq, "id_card" if seq < 3
                                 else "code", credential, name=name if seq < 3 else None)
            await mqtt.publish(protocol.topic(SITE, kiosk, protocol.SCAN), json.dumps(scan), qos=1)
        count = protocol.door(f"{kiosk}-1-1", kiosk, door, "in", now, 1, 1)
        await mqtt.publish(protocol.topic(SITE, kiosk, protocol.DOOR), json.dumps(count), qos=1)


async def test_script_in_kiosk_fields_never_runs_in_the_console(site):
    await publish_hostile_kiosk(site)
    name, password = TEST_USERS["manager"]

    async with httpx.AsyncClient(base_url=site.url, verify=site.verify, timeout=10) as http:
        await http.post("/api/sign-in", json={"name": name, "password": password})

        async def stored():
            rows = (await http.get("/api/entries")).json()
            return len([r for r in rows if r["door"] in PAYLOADS]) >= 3

        await poll(stored, timeout=15)

    async with async_playwright() as pw:
        browser = await launch_chromium(pw)
        try:
            context = await browser.new_context(ignore_https_errors=True, locale="zh-CN")
            await context.add_init_script("""
                window.__violations = [];
                document.addEventListener('securitypolicyviolation',
                    e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));""")
            page = await context.new_page()
            dialogs = []
            page.on("dialog",
                    lambda d: (dialogs.append(d.message), asyncio.ensure_future(d.dismiss())))
            await page.goto(site.url + "/")
            await page.fill("input[name=name]", name)
            await page.fill("input[name=password]", password)
            await page.click("#signin-form button[type=submit]")
            await page.wait_for_selector("#app", state="visible")
            await page.wait_for_selector("#entries tr")
            seen = await page.text_content("#entries")
            assert PAYLOADS[0] in seen and PAYLOADS[1] in seen, "shown as text"
            await page.click("#tabs button[data-view=alerts]")
            await page.wait_for_selector("#alerts tr.alert-row")
            assert PAYLOADS[0] in await page.text_content("#alerts")
            await page.click("#tabs button[data-view=kiosks]")
            await page.wait_for_selector("#kiosks tr[data-kiosk='kiosk-x']")
            assert PAYLOADS[1] in await page.text_content("#kiosks")
            await page.click("#tabs button[data-view=counts]")
            await page.wait_for_selector("#day-chart svg rect")
            legend = await page.text_content("#day-chart")
            assert PAYLOADS[0] in legend and PAYLOADS[1] in legend
            await page.click("#tabs button[data-view=audit]")
            await page.wait_for_selector("#audit tr")
            await page.click("#tabs button[data-view=live]")
            await page.wait_for_selector("#entries tr")

            assert await page.evaluate("window.__pwned") is None
            assert dialogs == []
            assert await page.evaluate("window.__violations") == [], "no markup was even tried"
            assert await page.evaluate("""
                document.querySelectorAll('main img, main script').length === 0
                && [...document.querySelectorAll('main svg')]
                    .every(s => s.parentElement.closest('.chart'))""")

            # And should markup ever get in, the CSP stops inline script and handlers.
            await page.evaluate("""() => {
                const s = document.createElement('script'); s.textContent = 'window.__pwned = 9';
                document.body.append(s);
                const d = document.createElement('div');
                d.innerHTML = '<img src=x onerror="window.__pwned=10">';
                document.body.append(d); }""")
            await page.wait_for_function("() => window.__violations.length >= 2", timeout=5000)
            assert await page.evaluate("window.__pwned") is None
        finally:
            await browser.close()


# --- the installed gateway's certificate -------------------------------------------------

def test_console_certificate_from_the_site_ca_which_site_init_keeps(tmp_path):
    import subprocess
    import sys

    from cryptography import x509

    site_dir, out = tmp_path / "site", tmp_path / "etc"
    run = [sys.executable, "-m", "provisioning", "--db", str(tmp_path / "r.db"),
           "--site-dir", str(site_dir)]
    made = subprocess.run(run + ["console-cert", "--site", "erqi", "--hosts", "gw.local",
                                 "192.0.2.5", "--out", str(out)],
                          capture_output=True, text=True, cwd=processes.ROOT, check=False)
    assert made.returncode == 0, made.stderr
    ca = (site_dir / "tls" / "ca.pem").read_bytes()
    cert = x509.load_pem_x509_certificate((out / "console.pem").read_bytes())
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(ca))
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"gw.local", "localhost"} <= set(names.get_values_for_type(x509.DNSName))
    addresses = {str(a) for a in names.get_values_for_type(x509.IPAddress)}
    assert {"192.0.2.5", "127.0.0.1"} <= addresses
    assert (out / "console.key").stat().st_mode & 0o077 == 0
    # The broker's setup later uses the same CA (kiosks trust one CA for both).
    init = subprocess.run(run + ["site-init", "--site", "erqi", "--hosts", "gw.local"],
                          capture_output=True, text=True, cwd=processes.ROOT, check=False)
    assert init.returncode == 0, init.stderr
    assert (site_dir / "tls" / "ca.pem").read_bytes() == ca
    assert (site_dir / "tls" / "server.pem").exists()


def test_password_file_rewrite_keeps_the_group_and_mode_the_installer_set(tmp_path):
    import os

    path = tmp_path / "passwd"
    broker_files.write_atomic(path, "a:1\n")
    os.chmod(path, 0o640)
    broker_files.write_atomic(path, "a:2\n")
    assert path.read_text() == "a:2\n" and path.stat().st_mode & 0o777 == 0o640
