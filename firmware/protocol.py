"""PlaceCode's MQTT wire protocol, declared once and used by kiosk, gateway and simulators.

docs/protocol.md is the contract; this module is its only implementation. It must run
unchanged on MicroPython (only json, time and os; no typing, dataclasses or f-string
features MicroPython lacks), so a board can speak it too. Messages are plain dicts so
the device side stays small; every message a peer sends is checked here before use, and
every rejection carries a short reason code that the receiver counts.
"""

import json
import os
import time

try:
    from firmware import manual_id as _manual_id  # CPython and the test runners: repo layout
    from firmware import verdict as _verdict
except ImportError:  # pragma: no cover - a board's flat /lib
    import manual_id as _manual_id  # type: ignore[no-redef]  # the same modules, board layout
    import verdict as _verdict  # type: ignore[no-redef]

if hasattr(os, "urandom"):

    def _random_bytes(n):
        return os.urandom(n)

else:  # pragma: no cover - MicroPython ports without os.urandom (the WebAssembly port)
    import random

    def _random_bytes(n):
        return bytes(random.getrandbits(8) for _ in range(n))

VERSION = 1
ROOT = "placecode"

SCAN = "scan"
# kiosk -> gateway: a scan nobody waits for any more (the outbox's backlog): a scan's
# message on a topic of its own, which the gateway reads on a connection of its own
BACKLOG = "backlog"
VERDICT = "verdict"
STATUS = "status"
ACK = "ack"
DOOR = "door"
POLICY = "policy"
STAFF = "staff"  # kiosk -> gateway: a staff card tapped (not a visit: never forwarded)
DUTY = "duty"  # gateway -> kiosk: what that tap did (signed on, signed off, not staff)
GATE = "gate"  # gateway -> kiosk: open the gate once, for the person on duty
GATE_DONE = "gate_done"  # kiosk -> gateway: whether it did
KINDS = (SCAN, BACKLOG, VERDICT, ACK, STATUS, DOOR, POLICY, STAFF, DUTY, GATE, GATE_DONE)

MAX_ACK_IDS = 500
# Numbering epochs (docs/protocol.md §1.9): 0 is the epoch of a kiosk that sends none; a
# kiosk starting on a new outbox picks one at random from 1..MAX_EPOCH (48 bits: exact in
# every JSON reader, a collision between two epochs of one kiosk practically impossible).
MAX_EPOCH = (1 << 48) - 1

METHODS = ("code", "signed_code", "id_card", "manual")
# keyed: typed in by staff for a visitor with neither phone nor card (method manual)
MEDIA = ("screen", "paper", "card", "keyed", "unknown")
COLOURS = _verdict.COLOURS
ACTIONS = _verdict.ACTIONS
SOURCES = _verdict.SOURCES
PROMPTS = _verdict.PROMPTS
STATES = ("online", "offline")
POLICY_YELLOW = _verdict.POLICY_YELLOW
POLICY_UNCHECKED = _verdict.POLICY_UNCHECKED
# on, off: signed on or off at this door; gate: on duty here with a visitor held, so the
# gate opens once (a `gate` command follows); not_staff: no staff card of this site
DUTY_RESULTS = ("on", "off", "gate", "not_staff")
# why the person on duty opened the gate (the console's short list)
GATE_REASONS = ("manual_check_passed", "paper_register", "device_fault", "emergency")
GATE_REFUSALS = ("wrong_door", "stale", "repeated", "board")
MAX_GATE_MS = 8000  # the board's own ceiling (docs/board-protocol.md max_gate_ms)
GATE_FRESH_MS = 30000  # an older gate command is refused: it was meant for someone gone
# a scan the kiosk decided itself carries all of these (prompt: absent from releases
# before it was added, when the gateway falls back to the colour's usual prompt)
DECISION_FIELDS = ("colour", "action", "source")

MAX_PAYLOAD = 8192
MAX_TEMP_DC = 600  # 60.0 °C: beyond what an infrared forehead reading can be
_ID_LEN = 36
_NAME_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-_"


class ProtocolError(ValueError):
    """A message or topic that breaks the contract; `reason` is a short code for counters."""

    def __init__(self, reason, detail=""):
        super().__init__(reason + (": " + detail if detail else ""))
        self.reason = reason
        self.detail = detail


# --- topics ---------------------------------------------------------------------------


# site-wide topics live beside the kiosks; the gateway's own scans (visitors registered by
# hand, paper register entries) are numbered under "console" and "register"
RESERVED_KIOSK_NAMES = ("trust", "gateway", "console", "register")


def check_name(value, what):
    """Site and kiosk names: 1-64 of [a-z0-9-_], so they can never inject topic levels."""
    if not isinstance(value, str) or not 0 < len(value) <= 64:
        raise ProtocolError("bad_name", what)
    for ch in value:
        if ch not in _NAME_CHARS:
            raise ProtocolError("bad_name", what)
    return value


def topic(site, kiosk, kind):
    if kind not in KINDS:
        raise ProtocolError("unknown_kind", kind)
    return "%s/%s/%s/%s" % (ROOT, check_name(site, "site"), check_kiosk_name(kiosk), kind)


def trust_list_topic(site):
    """The site's signed trust list (retained; the gateway publishes, kiosks read)."""
    return "%s/%s/trust/list" % (ROOT, check_name(site, "site"))


def red_list_topic(site):
    """The site's signed red list (retained; the gateway publishes, kiosks read)."""
    return "%s/%s/trust/redlist" % (ROOT, check_name(site, "site"))


def staff_list_topic(site):
    """The site's staff cards as kiosks recognise them (retained; the gateway publishes)."""
    return "%s/%s/trust/staff_list" % (ROOT, check_name(site, "site"))


def site_filter(site, kind):
    """Subscription filter for one kind from every kiosk of a site."""
    return "%s/%s/+/%s" % (ROOT, check_name(site, "site"), kind)


def parse_topic(name):
    """Return (site, kiosk, kind) or raise ProtocolError."""
    parts = name.split("/")
    if len(parts) != 4 or parts[0] != ROOT:
        raise ProtocolError("bad_topic", name[:100])
    if parts[3] not in KINDS:
        raise ProtocolError("unknown_kind", parts[3][:32])
    check_name(parts[1], "site")
    check_kiosk_name(parts[2])
    return parts[1], parts[2], parts[3]


def check_kiosk_name(value):
    check_name(value, "kiosk")
    if value in RESERVED_KIOSK_NAMES:
        raise ProtocolError("bad_name", "kiosk name reserved")
    return value


# --- message schemas ------------------------------------------------------------------
# field: (type, required, allowed values or max length)

_INT = "int"
_STR = "str"
_BOOL = "bool"
_DICT = "dict"
_IDS = "ids"  # a list of event ids

SCHEMAS = {  # type: dict[str, dict[str, tuple]]
    SCAN: {
        "v": (_INT, True, None),
        "id": (_STR, True, _ID_LEN),
        "kiosk": (_STR, True, 64),
        "door": (_STR, True, 64),
        "seq": (_INT, True, None),
        "epoch": (_INT, False, None),  # the numbering epoch of `seq` (absent: 0)
        "ts": (_INT, True, None),
        "method": (_STR, True, METHODS),
        "medium": (_STR, False, MEDIA),
        "credential": (_STR, True, 2048),
        "name": (_STR, False, 64),
        "replay": (_BOOL, False, None),
        # present when the kiosk decided itself (a signed code verified on the kiosk, or
        # no verdict in time): firmware/verdict.py
        "colour": (_STR, False, COLOURS),
        "action": (_STR, False, ACTIONS),
        "prompt": (_STR, False, PROMPTS),
        "source": (_STR, False, SOURCES),
        # the visitor's temperature in tenths of a degree Celsius, where the door has a
        # thermometer and it answered
        "temp_dc": (_INT, False, None),
    },
    VERDICT: {
        "v": (_INT, True, None),
        "id": (_STR, True, _ID_LEN),
        "kiosk": (_STR, True, 64),
        "colour": (_STR, True, COLOURS),
        "action": (_STR, True, ACTIONS),
        "prompt": (_STR, True, PROMPTS),
        "source": (_STR, True, SOURCES),
        "ts": (_INT, True, None),
    },
    ACK: {
        "v": (_INT, True, None),
        "kiosk": (_STR, True, 64),
        "ids": (_IDS, True, MAX_ACK_IDS),
        "ts": (_INT, True, None),
        "high_seq": (_INT, False, None),
        "epoch": (_INT, False, None),  # the epoch high_seq is counted in (absent: 0)
    },
    DOOR: {
        "v": (_INT, True, None),
        "id": (_STR, True, 64),  # "<kiosk>-<board boot hex>-<board seq>": the dedup key
        "kiosk": (_STR, True, 64),
        "door": (_STR, True, 64),
        "direction": (_STR, True, ("in", "out")),
        "ts": (_INT, True, None),
        "board_boot": (_INT, True, None),
        "board_seq": (_INT, True, None),
    },
    POLICY: {
        "v": (_INT, True, None),
        "kiosk": (_STR, True, 64),
        "yellow": (_STR, True, POLICY_YELLOW),
        "test_within_h": (_INT, True, None),
        "unchecked": (_STR, True, POLICY_UNCHECKED),
        "categories": (_STR, False, 200),  # what it was made from, for people to read
        "ts": (_INT, True, None),
    },
    STAFF: {
        "v": (_INT, True, None),
        "id": (_STR, True, _ID_LEN),
        "kiosk": (_STR, True, 64),
        "door": (_STR, True, 64),
        "ts": (_INT, True, None),
        "card": (_STR, True, 64),  # the card's hash under the staff list's salt
    },
    DUTY: {
        "v": (_INT, True, None),
        "id": (_STR, True, _ID_LEN),  # the staff message answered
        "kiosk": (_STR, True, 64),
        "result": (_STR, True, DUTY_RESULTS),
        "ts": (_INT, True, None),
    },
    GATE: {
        "v": (_INT, True, None),
        "id": (_STR, True, _ID_LEN),
        "kiosk": (_STR, True, 64),
        "door": (_STR, True, 64),
        "ms": (_INT, True, None),
        "reason": (_STR, True, GATE_REASONS),
        "ts": (_INT, True, None),
    },
    GATE_DONE: {
        "v": (_INT, True, None),
        "id": (_STR, True, _ID_LEN),  # the gate command answered
        "kiosk": (_STR, True, 64),
        "ok": (_BOOL, True, None),
        "refused": (_STR, False, GATE_REFUSALS),
        "ts": (_INT, True, None),
    },
    STATUS: {
        "v": (_INT, True, None),
        "kiosk": (_STR, True, 64),
        "state": (_STR, True, STATES),
        "ts": (_INT, False, None),
        "sw": (_STR, False, 64),
        "outbox": (_INT, False, None),
        "oldest_ms": (_INT, False, None),
        "first_seq": (_INT, False, None),
        "last_seq": (_INT, False, None),
        "epoch": (_INT, False, None),  # the epoch of first_seq and last_seq (absent: 0)
        "health": (_DICT, False, None),
        "lists": (_DICT, False, None),
        "clock_offset_ms": (_INT, False, None),
        "clock_synced": (_BOOL, False, None),
        "clock_jumps": (_INT, False, None),
        "metrics": (_DICT, False, None),
        "policy": (_DICT, False, None),  # the door policy it follows (kind `policy`)
    },
}
SCHEMAS[BACKLOG] = SCHEMAS[SCAN]  # the same message; only its topic says nobody waits


def _type_ok(value, kind):
    if kind == _INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == _STR:
        return isinstance(value, str)
    if kind == _BOOL:
        return isinstance(value, bool)
    if kind == _IDS:
        return isinstance(value, list)
    return isinstance(value, dict)


def validate(kind, msg):
    """Check a message dict against its schema; return it, or raise ProtocolError."""
    schema = SCHEMAS.get(kind)
    if schema is None:
        raise ProtocolError("unknown_kind", str(kind))
    if not isinstance(msg, dict):
        raise ProtocolError("not_object")
    version = msg.get("v")
    if not _type_ok(version, _INT):
        raise ProtocolError("missing_field", "v")
    if version != VERSION:
        raise ProtocolError("unknown_version", str(version))
    for field in schema:
        ftype, required, limit = schema[field]
        if field not in msg:
            if required:
                raise ProtocolError("missing_field", field)
            continue
        value = msg[field]
        if not _type_ok(value, ftype):
            raise ProtocolError("bad_type", field)
        if isinstance(limit, tuple):
            if value not in limit:
                raise ProtocolError("bad_value", field)
        elif isinstance(limit, int) and len(value) > limit:
            raise ProtocolError("too_long", field)
    if "id" in schema and kind != DOOR:
        check_event_id(msg["id"])
    if "ids" in schema:
        if not msg["ids"] and "high_seq" not in msg:
            raise ProtocolError("bad_value", "ids")
        for event_id in msg["ids"]:
            check_event_id(event_id)
    if kind in (SCAN, BACKLOG):
        present = [f for f in DECISION_FIELDS if f in msg]
        if present and len(present) != len(DECISION_FIELDS):
            raise ProtocolError("partial_decision")
        if "prompt" in msg and not present:
            raise ProtocolError("partial_decision")
        if msg["method"] == "manual" and not _manual_id.is_credential(msg["credential"]):
            raise ProtocolError("bad_value", "credential")
    if kind == POLICY and not 0 <= msg["test_within_h"] <= _verdict.MAX_TEST_WITHIN_H:
        raise ProtocolError("bad_value", "test_within_h")
    if kind == GATE and not 0 < msg["ms"] <= MAX_GATE_MS:
        raise ProtocolError("bad_value", "ms")
    if kind == GATE_DONE and msg["ok"] == ("refused" in msg):
        raise ProtocolError("bad_value", "refused")  # a refusal says why; a success does not
    if "temp_dc" in msg and not 0 <= msg["temp_dc"] <= MAX_TEMP_DC:
        raise ProtocolError("bad_value", "temp_dc")
    if "seq" in msg and msg["seq"] < 1:
        raise ProtocolError("bad_value", "seq")
    if "epoch" in schema and "epoch" in msg and not 0 <= msg["epoch"] <= MAX_EPOCH:
        raise ProtocolError("bad_value", "epoch")
    if "ts" in msg and msg["ts"] < 0:
        raise ProtocolError("bad_value", "ts")
    return msg


def encode(kind, msg):
    """Validate and serialise a message to bytes for publishing."""
    return json.dumps(validate(kind, msg)).encode()


def decode(topic_name, payload):
    """Parse and check an incoming message; return (site, kiosk, kind, msg).

    The kiosk named in the message must be the kiosk in the topic: a message that
    claims to come from another kiosk than the topic it arrived on is refused.
    """
    site, kiosk, kind = parse_topic(topic_name)
    if len(payload) > MAX_PAYLOAD:
        raise ProtocolError("too_large", str(len(payload)))
    try:
        msg = json.loads(payload)
    except (ValueError, UnicodeError):
        raise ProtocolError("not_json") from None  # not `from err`: MicroPython warns
    validate(kind, msg)
    if msg.get("kiosk") != kiosk:
        raise ProtocolError("topic_mismatch", "kiosk")
    return site, kiosk, kind, msg


# --- message builders -----------------------------------------------------------------


def scan(event_id, kiosk, door, seq, ts, method, credential, medium=None, name=None,
         decided=None, epoch=0, temp_dc=None):
    """`decided`: (colour, action, prompt, source) when the kiosk decided on its own.
    `epoch`: the numbering epoch of `seq`; 0 (a kiosk without epochs) is not sent.
    `temp_dc`: the visitor's temperature in tenths of a degree Celsius."""
    msg = {
        "v": VERSION,
        "id": event_id,
        "kiosk": kiosk,
        "door": door,
        "seq": seq,
        "ts": ts,
        "method": method,
        "credential": credential,
    }
    if epoch:
        msg["epoch"] = epoch
    if medium is not None:
        msg["medium"] = medium
    if name is not None:
        msg["name"] = name
    if decided is not None:
        msg["colour"], msg["action"], msg["prompt"], msg["source"] = decided
    if temp_dc is not None:
        msg["temp_dc"] = temp_dc
    return msg


def verdict(event_id, kiosk, colour, action, prompt, source, ts):
    return {
        "v": VERSION,
        "id": event_id,
        "kiosk": kiosk,
        "colour": colour,
        "action": action,
        "prompt": prompt,
        "source": source,
        "ts": ts,
    }


def door(key, kiosk, door_code, direction, ts, board_boot, board_seq):
    """One person through the door, counted by the board's beams."""
    return {"v": VERSION, "id": key, "kiosk": kiosk, "door": door_code, "direction": direction,
            "ts": ts, "board_boot": board_boot, "board_seq": board_seq}


def policy(kiosk, door_policy, ts, categories=None):
    """The entry policy of the kiosk's door (firmware/verdict.py Policy), retained."""
    msg = {"v": VERSION, "kiosk": kiosk, "ts": ts}
    msg.update(door_policy.to_dict())
    if categories is not None:
        msg["categories"] = categories
    return msg


def policy_of(msg):
    """The Policy a validated policy message carries."""
    return _verdict.Policy(msg["yellow"], msg["test_within_h"], msg["unchecked"])


def staff(event_id, kiosk, door_code, ts, card):
    """A staff card tapped at a kiosk: only its hash travels, never the ID number."""
    return {"v": VERSION, "id": event_id, "kiosk": kiosk, "door": door_code, "ts": ts,
            "card": card}


def duty(event_id, kiosk, result, ts):
    return {"v": VERSION, "id": event_id, "kiosk": kiosk, "result": result, "ts": ts}


def gate(event_id, kiosk, door_code, ms, reason, ts):
    """Open the gate once for `ms`; sent only by the gateway (the broker's ACL)."""
    return {"v": VERSION, "id": event_id, "kiosk": kiosk, "door": door_code, "ms": ms,
            "reason": reason, "ts": ts}


def gate_done(event_id, kiosk, ts, refused=None):
    msg = {"v": VERSION, "id": event_id, "kiosk": kiosk, "ok": refused is None, "ts": ts}
    if refused is not None:
        msg["refused"] = refused
    return msg


def staff_list(salt, cards, ts):
    """The retained staff list: a salt and the hashes of the staff's ID cards under it."""
    return {"v": VERSION, "salt": salt, "cards": list(cards), "ts": ts}


def check_staff_list(payload):
    """Parse a retained staff list; return (salt, frozenset of card hashes) or raise."""
    if len(payload) > 256 * 1024:
        raise ProtocolError("too_large", str(len(payload)))
    try:
        msg = json.loads(payload)
    except (ValueError, UnicodeError):
        raise ProtocolError("not_json") from None
    if not isinstance(msg, dict) or msg.get("v") != VERSION:
        raise ProtocolError("unknown_version")
    salt, cards = msg.get("salt"), msg.get("cards")
    if not isinstance(salt, str) or not 16 <= len(salt) <= 64:
        raise ProtocolError("bad_value", "salt")
    if not isinstance(cards, list) or not all(
            isinstance(c, str) and 0 < len(c) <= 64 for c in cards):
        raise ProtocolError("bad_value", "cards")
    return salt, frozenset(cards)


def ack(kiosk, ids, ts, high_seq=None, epoch=0):
    """The gateway has stored these scans durably; the kiosk may drop them.
    `high_seq`, when present, is the highest sequence number the gateway holds from
    this kiosk in numbering epoch `epoch`, sent only once everything the gateway has
    received from the kiosk is committed: a kiosk continues above it, never reusing one."""
    msg = {"v": VERSION, "kiosk": kiosk, "ids": list(ids), "ts": ts}
    if high_seq is not None:
        msg["high_seq"] = high_seq
        if epoch:
            msg["epoch"] = epoch
    return msg


def epoch_of(msg):
    """The numbering epoch a scan, status or ack speaks of: 0 when it names none."""
    return msg.get("epoch", 0)


def status(kiosk, state, ts=None, **fields):
    """Optional fields: sw, outbox, oldest_ms, first_seq, last_seq, epoch, health, lists."""
    msg = {"v": VERSION, "kiosk": kiosk, "state": state}
    if ts is not None:
        msg["ts"] = ts
    for name in fields:
        if fields[name] is not None:
            msg[name] = fields[name]
    return msg


# --- event ids: UUIDv7 (RFC 9562), monotonic per generator ----------------------------

_HEX = "0123456789abcdef"


def _hex(data):
    out = []
    for b in data:
        out.append(_HEX[b >> 4])
        out.append(_HEX[b & 15])
    return "".join(out)


def format_uuid(raw):
    h = _hex(raw)
    return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]


def check_event_id(value):
    """An event id is a lowercase canonical UUID of version 7."""
    if not isinstance(value, str) or len(value) != _ID_LEN:
        raise ProtocolError("bad_id")
    if value[8] != "-" or value[13] != "-" or value[18] != "-" or value[23] != "-":
        raise ProtocolError("bad_id")
    if value[14] != "7" or value[19] not in "89ab":
        raise ProtocolError("bad_id")
    digits = value[0:8] + value[9:13] + value[14:18] + value[19:23] + value[24:36]
    if digits.strip(_HEX):  # anything left is not a lowercase hex digit
        raise ProtocolError("bad_id")
    return value


def event_id_ms(value):
    """Milliseconds since the epoch encoded in a UUIDv7."""
    return int(value[0:8] + value[9:13], 16)


def now_ms():
    try:
        return time.time_ns() // 1000000
    except AttributeError:  # pragma: no cover - MicroPython ports without time_ns
        return int(time.time() * 1000)


class EventIds:
    """UUIDv7 generator: unique across kiosks (62 random bits) and strictly increasing
    within one kiosk even when its clock stands still or steps back (12-bit counter in
    rand_a, RFC 9562 method 1; the timestamp never goes below the last one issued)."""

    def __init__(self, random_bytes=None):
        self._random = random_bytes or _random_bytes
        self._last_ms = -1
        self._counter = 0

    def new(self, ms=None):
        if ms is None:
            ms = now_ms()
        if ms <= self._last_ms:
            ms = self._last_ms
            self._counter += 1
            if self._counter > 0xFFF:
                ms += 1
                self._counter = 0
        else:
            self._counter = 0
        self._last_ms = ms
        rnd = self._random(8)
        raw = bytearray(16)
        for i in range(6):
            raw[i] = (ms >> (8 * (5 - i))) & 0xFF
        raw[6] = 0x70 | (self._counter >> 8)
        raw[7] = self._counter & 0xFF
        raw[8] = 0x80 | (rnd[0] & 0x3F)
        for i in range(1, 8):
            raw[8 + i] = rnd[i]
        return format_uuid(raw)
