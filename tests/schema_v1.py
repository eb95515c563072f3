"""The SQLite schemas of the last release before versioning (commit 6ffbe7e), frozen.

Every file written by that release, exactly as it created them: the "old release" the
upgrade tests start from, and version 1 of each component (firmware/schema.py), which
must never change: later changes are migrations. Do not edit; add a new module for the
next frozen release instead."""

from __future__ import annotations

# firmware/kiosk/outbox.py
OUTBOX = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    payload BLOB NOT NULL,
    created_ms INTEGER NOT NULL
);
INSERT OR IGNORE INTO meta (key, value) VALUES ('last_seq', 0);
-- The highest sequence number ever used moves with the row, in the same statement: adding
-- a scan is one INSERT (one round trip to the database thread), still all-or-nothing.
CREATE TRIGGER IF NOT EXISTS outbox_last_seq AFTER INSERT ON outbox BEGIN
    UPDATE meta SET value = NEW.seq WHERE key = 'last_seq' AND value < NEW.seq;
END;
"""

# gateway/store.py
GATEWAY_STORE = """
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,
    kiosk TEXT NOT NULL,
    door TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,
    method TEXT NOT NULL,
    medium TEXT,
    subject TEXT NOT NULL,
    masked TEXT NOT NULL,
    masked_name TEXT,
    colour TEXT,
    action TEXT,
    prompt TEXT,
    source TEXT,
    verdict_ms INTEGER
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS events_ts ON events (ts);
CREATE INDEX IF NOT EXISTS events_door_ts ON events (door, ts);
CREATE INDEX IF NOT EXISTS events_subject_ts ON events (subject, ts);
CREATE INDEX IF NOT EXISTS events_kiosk_seq ON events (kiosk, seq);
CREATE TABLE IF NOT EXISTS uploads (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    kiosk TEXT NOT NULL,
    seq INTEGER NOT NULL,
    queued_ms INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS uploads_kiosk_seq ON uploads (kiosk, seq);
-- Per kiosk: every seq up to `contiguous` is stored; `high` is the highest seen.
CREATE TABLE IF NOT EXISTS sequences (
    kiosk TEXT PRIMARY KEY,
    contiguous INTEGER NOT NULL,
    high INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS kiosks (
    kiosk TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    changed_ms INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL,
    sw TEXT,
    outbox INTEGER,
    health TEXT,
    extra TEXT  -- the rest of the status: lists, clock, oldest unsent scan (JSON)
);
-- People counted through each door by the kiosks' boards, once per board event.
CREATE TABLE IF NOT EXISTS door_passes (
    id TEXT PRIMARY KEY,
    door TEXT NOT NULL,
    direction TEXT NOT NULL,
    ts INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS door_passes_door_ts ON door_passes (door, ts);
CREATE TABLE IF NOT EXISTS forwarder (
    key TEXT PRIMARY KEY,
    value INTEGER
);
"""

# gateway/users.py
CONSOLE_USERS = """
CREATE TABLE IF NOT EXISTS console_users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('duty', 'manager', 'tracer')),
    pw_hash TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0
);
"""

# gateway/auth.py
CONSOLE_SESSIONS = """
CREATE TABLE IF NOT EXISTS console_sessions (
    token_hash TEXT PRIMARY KEY,
    user TEXT NOT NULL,
    role TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL
);
"""

# gateway/audit.py
CONSOLE_AUDIT = """
CREATE TABLE IF NOT EXISTS console_audit (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    user TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS console_audit_no_update BEFORE UPDATE ON console_audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS console_audit_no_delete BEFORE DELETE ON console_audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""

# gateway/alerts.py
CONSOLE_ALERTS = """
CREATE TABLE IF NOT EXISTS console_alerts (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    kiosk TEXT,
    door TEXT,
    ts INTEGER NOT NULL,
    colour TEXT,
    action TEXT,
    masked TEXT,
    raised_ms INTEGER NOT NULL,
    acked_ms INTEGER,
    acked_by TEXT,
    outcome TEXT,
    note TEXT
);
CREATE INDEX IF NOT EXISTS console_alerts_open ON console_alerts (acked_ms, n);
"""

# gateway/counts.py
CONSOLE_DOOR_COUNTS = """
CREATE TABLE IF NOT EXISTS console_door_counts (
    door TEXT NOT NULL,
    hour_ms INTEGER NOT NULL,
    people INTEGER NOT NULL CHECK (people >= 0),
    reported_ms INTEGER NOT NULL,
    PRIMARY KEY (door, hour_ms)
) WITHOUT ROWID;
"""

# gateway/report.py
CONSOLE_REPORTS = """
CREATE TABLE IF NOT EXISTS console_reports (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    day TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    trigger TEXT NOT NULL,
    ok INTEGER NOT NULL,
    status TEXT NOT NULL,
    total INTEGER NOT NULL
);
"""

# provisioning/registry.py
REGISTRY = """
CREATE TABLE IF NOT EXISTS venues (
    code TEXT PRIMARY KEY,
    parent TEXT REFERENCES venues(code),
    name TEXT NOT NULL,
    category TEXT NOT NULL,
    credit_code TEXT,
    plate TEXT,
    address TEXT NOT NULL,
    zone TEXT NOT NULL DEFAULT '',
    manager_name TEXT NOT NULL,
    manager_phone TEXT NOT NULL,
    applicant_name TEXT NOT NULL DEFAULT '',
    applicant_phone TEXT NOT NULL DEFAULT '',
    updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS venues_parent ON venues(parent);
CREATE TABLE IF NOT EXISTS doors (
    venue TEXT NOT NULL REFERENCES venues(code),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (venue, code),
    UNIQUE (venue, name)
);
"""

# provisioning/enrol.py
ENROLMENT = """
CREATE TABLE IF NOT EXISTS broker_users (
    username TEXT NOT NULL,
    site TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('gateway', 'kiosk')),
    venue TEXT,
    door TEXT,
    password_hash TEXT NOT NULL,
    cert_serial TEXT,
    state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'revoked')),
    created_at INTEGER NOT NULL,
    revoked_at INTEGER,
    PRIMARY KEY (site, username),
    FOREIGN KEY (venue, door) REFERENCES doors(venue, code)
);
CREATE TABLE IF NOT EXISTS enrol_codes (
    code_hash TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    venue TEXT NOT NULL,
    door TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER,
    kiosk TEXT
);
"""

# provisioning/upload.py
VENUE_UPLOADS = """
CREATE TABLE IF NOT EXISTS venue_uploads (
    code TEXT PRIMARY KEY REFERENCES venues(code),
    digest TEXT NOT NULL,
    uploaded_at INTEGER NOT NULL
);
"""

# simulators/platform_records.py
PLATFORM_RECORDS = """
CREATE TABLE IF NOT EXISTS records (
    key TEXT PRIMARY KEY,
    kiosk TEXT NOT NULL,
    seq INTEGER NOT NULL,
    body TEXT NOT NULL,
    received_at TEXT NOT NULL,
    deliveries INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS records_kiosk_seq ON records (kiosk, seq);
"""

# simulators/platform_venues.py
PLATFORM_VENUES = """
CREATE TABLE IF NOT EXISTS registered_venues (
    code TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    received_at TEXT NOT NULL,
    versions INTEGER NOT NULL DEFAULT 1
);
"""

# firmware/kiosk/board_counts.py
BOARD_EVENTS = (
    "CREATE TABLE IF NOT EXISTS board_events ("
    " board_boot INTEGER NOT NULL, event_no INTEGER NOT NULL, kind TEXT NOT NULL,"
    " value TEXT NOT NULL, uptime_ms INTEGER NOT NULL, received_at INTEGER NOT NULL,"
    " handed_over INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (board_boot, event_no))"
)
