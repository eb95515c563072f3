"""The gateway's configuration: one TOML file, validated whole, unknown keys refused."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, FilePath, field_validator, model_validator

from firmware import protocol
from firmware.config_file import BrokerConfig, load_model
from gateway.entry_policy import policies_from_config


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlatformConfig(_Strict):
    url: str = "http://127.0.0.1:8700"
    lookup_deadline_s: float = Field(0.8, gt=0, le=10)
    # how long a looked-up colour is answered from the cache
    cache_ttl_s: dict[str, float] = {"green": 300.0, "yellow": 60.0, "red": 60.0}
    # past its time-to-live a colour is only used, marked stale, when the platform fails
    cache_max_stale_s: float = Field(86_400.0, ge=0)
    upload_batch: int = Field(500, ge=1, le=5000)
    upload_timeout_s: float = Field(10.0, gt=0)
    # a record behind a gap in its kiosk's sequence waits this long for the gap to fill
    upload_hold_s: float = Field(600.0, ge=0)


class HttpConfig(_Strict):
    """The console and the kiosks' update/time routes. Plain HTTP only on loopback (the
    demo); on any other address the gateway serves HTTPS with a certificate from the site
    CA (`python -m provisioning console-cert`), so the session cookie is Secure."""

    host: str = "127.0.0.1"
    port: int = Field(8800, ge=1, le=65535)
    tls_cert: FilePath | None = None
    tls_key: FilePath | None = None
    # the broker's password file: kiosks sign their HTTP calls with their broker login
    kiosk_password_file: Path | None = None
    # `Authorization: Bearer <token>` for /metrics from anywhere but loopback
    metrics_token: str | None = Field(None, min_length=24)

    @model_validator(mode="after")
    def _https_off_loopback(self) -> HttpConfig:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together")
        if self.tls_cert is None and not _is_loopback(self.host):
            raise ValueError(f"plain HTTP only on loopback: to serve on {self.host}, set "
                             "tls_cert and tls_key (python -m provisioning console-cert)")
        return self


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ConsoleConfig(_Strict):
    """The site manager's console: sign-in, reports, tracing and retention."""

    timezone: str = "Asia/Shanghai"  # the site's clock, for hours, days and the deadline
    session_minutes: int = Field(480, ge=1, le=7 * 24 * 60)
    # Wrong passwords per user name before back-off; then the back-off doubles from
    # sign_in_backoff_s with each further one, up to sign_in_backoff_max_s (gateway/auth.py)
    sign_in_free_failures: int = Field(5, ge=1, le=100)
    sign_in_backoff_s: float = Field(30.0, gt=0, le=3600)
    sign_in_backoff_max_s: float = Field(900.0, gt=0, le=86_400)
    report_deadline: str = Field("16:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    # The report period closes this long before the deadline (the cut-off, 15:30 by
    # default): it holds the scans since the previous cut-off, and goes out right after.
    report_lead_minutes: int = Field(30, ge=1, le=600)
    report_retry_s: float = Field(60.0, gt=0, le=3600)  # a report not delivered: again after
    trace_window_minutes: int = Field(30, ge=1, le=24 * 60)
    # venue-wide tracing (gateway/venue_tracing.py): how long a scan stands for in its
    # venue where the entrances count no exits, and the longest any stay is taken to be
    trace_default_stay_minutes: int = Field(60, ge=1, le=24 * 60)
    trace_max_stay_minutes: int = Field(240, ge=1, le=24 * 60)
    retention_days: int = Field(28, ge=1, le=3650)
    # The purge runs once a day at this local time (quiet hours: its VACUUM holds the
    # write lock for as long as rewriting the file takes).
    purge_at: str = Field("03:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    purge_vacuum: bool = True
    kiosk_check_s: float = Field(2.0, gt=0)
    # 应扫尽扫 (gateway/coverage.py): coverage (scans ÷ people counted) over the trailing
    # window below `coverage_alert_below` for `coverage_alert_minutes` raises an alert, for
    # a door or a unit with at least `coverage_alert_min_people` counted in the window
    coverage_alert_below: float = Field(0.9, gt=0, le=1)
    coverage_window_minutes: int = Field(15, ge=1, le=24 * 60)
    coverage_alert_minutes: int = Field(30, ge=0, le=24 * 60)
    coverage_alert_min_people: int = Field(10, ge=1)
    coverage_check_s: float = Field(60.0, gt=0)
    code_url_prefixes: tuple[str, ...] = ("https://hc.henan.example/yk/v1?t=",)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. Asia/Shanghai)") from None
        return value


class TrustConfig(_Strict):
    """Signed lists the gateway hands to every kiosk (retained MQTT messages), made and
    signed with `python -m provisioning.keys`."""

    list_file: Path | None = None
    redlist_file: Path | None = None


class KiosksConfig(_Strict):
    """What the gateway believes of its kiosks (gateway/kiosk_trust.py) and how much of
    their traffic it takes (gateway/fair_ingest.py)."""

    # kiosk -> door(s), written by provisioning beside the broker's files
    # (<site-dir>/broker/kiosks.json); without one, a kiosk may name any door (demo)
    register_file: Path | None = None
    # a live scan's time further than this from the gateway's clock is flagged
    max_clock_skew_s: float = Field(300.0, gt=0)
    # replayed scans per second per kiosk: above a day's backlog drained in a minute (1440/s)
    replay_rate: float = Field(2000.0, gt=0)
    replay_burst: int = Field(4000, ge=1)
    replay_queue: int = Field(4000, ge=1)  # per kiosk; beyond it replays are dropped
    live_in_flight: int = Field(8, ge=1)  # unanswered live scans per kiosk


class UnitsConfig(_Strict):
    """The site's units (gateway/venues.py): venues, the shops and stalls inside them and
    their doors, from provisioning's register, followed without a restart."""

    # the register's SQLite file (read only) or a CSV exported from it; unset: the site is
    # one unit named after `site` (a demo)
    register_file: Path | None = None
    # venue codes of the site's top-level venues (each with everything inside it); empty:
    # every venue in the register
    roots: tuple[str, ...] = ()


class NotifierConfig(_Strict):
    """Where an alert nobody acknowledged goes (gateway/notify.py): a webhook the site
    manager's system receives, or an HTTP SMS gateway that texts the manager's phone."""

    kind: Literal["webhook", "sms"] = "webhook"
    url: str = Field(pattern=r"^https?://")
    # webhook: sent as `Authorization: Bearer`, and the key of the body's HMAC signature
    secret: str | None = Field(None, min_length=16)
    # sms: the site manager's phone number(s)
    to: tuple[str, ...] = ()
    timeout_s: float = Field(5.0, gt=0, le=60)

    @model_validator(mode="after")
    def _sms_has_phones(self) -> NotifierConfig:
        if self.kind == "sms" and not self.to:
            raise ValueError("an sms notifier needs `to`: the manager's phone number(s)")
        return self


class DutyConfig(_Strict):
    """一码一守: the roster, escalation of unacknowledged alerts, the gate opened by staff."""

    # the site's doors, besides those in the kiosk register and those seen in scans
    doors: tuple[str, ...] = ()
    # an alert open this long is sent to the site manager through `notifier`
    escalate_after_s: float = Field(120.0, ge=1, le=86_400)
    notifier: NotifierConfig | None = None
    # how long the gate stays open when the person on duty opens it, and how long the
    # console waits to hear that the kiosk did
    gate_open_ms: int = Field(3000, ge=500, le=8000)
    gate_answer_s: float = Field(5.0, gt=0, le=30)

    @field_validator("doors")
    @classmethod
    def _door_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for door in value:
            if not 0 < len(door) <= 64:
                raise ValueError(f"door {door[:64]!r}: 1-64 characters")
        return value


class TemperatureConfig(_Strict):
    """Doors with an infrared thermometer send each visitor's reading with the scan: at or
    above `threshold_c` the gateway's verdict holds the visitor for the person on duty
    (firmware/verdict.py with_temperature) and the console raises an alert. The kiosks'
    own `[thermometer] threshold_c` (for what they decide alone) should be the same."""

    threshold_c: float = Field(37.3, ge=35.0, le=42.0)


class GatewayConfig(_Strict):
    site: str
    db_path: Path
    # Key for the keyed hashes of ID numbers and code tokens; kept out of the database.
    pseudonym_key: str = Field(min_length=16)
    broker: BrokerConfig = BrokerConfig()
    platform: PlatformConfig = PlatformConfig()
    http: HttpConfig = HttpConfig()
    trust: TrustConfig = TrustConfig()
    kiosks: KiosksConfig = KiosksConfig()
    console: ConsoleConfig = ConsoleConfig()
    units: UnitsConfig = UnitsConfig()
    # category key -> {yellow = "hold"|"refuse", test_within_h = 0.., unchecked = "site"|
    # "hold"}: replaces that category's built-in policy (gateway/entry_policy.py)
    entry_policies: dict[str, dict[str, str | int]] = {}

    @field_validator("entry_policies")
    @classmethod
    def _policies(cls, value: dict[str, dict[str, str | int]]) -> dict[str, dict[str, str | int]]:
        policies_from_config(value)  # raises PolicyError (a ValueError) naming the entry
        return value
    duty: DutyConfig = DutyConfig()
    temperature: TemperatureConfig = TemperatureConfig()

    @field_validator("site")
    @classmethod
    def _site_name(cls, value: str) -> str:
        try:
            return protocol.check_name(value, "site")
        except protocol.ProtocolError:
            raise ValueError("must be 1-64 of a-z 0-9 - _") from None


def load(path: Path) -> GatewayConfig:
    return load_model(path, GatewayConfig)
