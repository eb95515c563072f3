"""The shop unit's main loop, over any board: the real one (board.py) or the test bridge.

A board offers: `uart` (the scanner module), led(red, green), tone(freq), relay(on),
ticks_ms(), random_ms(n), wait(ms, sock) -> (uart ready, socket ready), network_up(),
ssl_params(files, host), feed() (the watchdog) and running(). Config is the unit's JSON
file (written by `just shop-deploy`); an unknown key is an error that names it, so a typo
never silently takes a default.
"""

import gc
import json

try:
    from time import ticks_diff
except ImportError:  # CPython
    from firmware.board.ticks import ticks_diff

from firmware.shop.indicator import Indicator
from firmware.shop.link import Link
from firmware.shop.outbox import Outbox
from firmware.shop.scanner import Scanner
from firmware.shop.unit import Unit

REQUIRED = ("site", "unit", "door", "host")
DEFAULTS = {
    "port": 1883,
    "username": None,
    "password": None,
    "tls": None,  # {"ca", "cert", "key"}: DER files on the device (board.ssl_params)
    "keepalive_s": 5,
    "socket_timeout_s": 2,
    "verdict_budget_ms": 1500,
    "resend_after_ms": 5000,
    "window": 5,
    "data_dir": "/outbox",
    "outbox_bytes": 256 * 1024,
    "scanner_mode": "continuous",
    "scanner_light": "normal",
    "max_code_len": 512,
    "show_ms": 3000,  # how long a verdict's light and sound last
    # a phone held to the window is read again and again: the same code within this time
    # of its last read is the same visitor, not a new scan
    "same_code_ms": 2000,
    # trigger mode: the unit starts a read this often while nothing is shown, so the
    # module reads (and lights the window) only when the door is ready for a visitor
    "trigger_every_ms": 1000,
    "status_every_ms": 60000,  # the retained status (outbox size, counters) refreshed
    "wifi": None,
}
IDLE_MS = 200  # loop wait with nothing to show
BUSY_MS = 20  # loop wait while a pattern or a verdict is running


class ConfigError(ValueError):
    pass


def load_config(text):
    raw = json.loads(text)
    cfg = {}
    for key in raw:
        if key not in DEFAULTS and key not in REQUIRED:
            raise ConfigError("unknown option '%s' in the unit's config" % key)
    for key in REQUIRED:
        if key not in raw:
            raise ConfigError("option '%s' is required in the unit's config" % key)
    for key, default in DEFAULTS.items():
        cfg[key] = raw.get(key, default)
    for key in REQUIRED:
        cfg[key] = raw[key]
    return cfg


class App:
    def __init__(self, board, cfg):
        self.board = board
        self.cfg = cfg
        clock = board.ticks_ms
        self.scanner = Scanner(board.uart, cfg["max_code_len"], clock=clock)
        self.scanner.configure(cfg["scanner_mode"], cfg["scanner_light"])
        self.indicator = Indicator(board, cfg["show_ms"])
        self.outbox = Outbox(cfg["data_dir"], cfg["outbox_bytes"])
        if cfg["tls"]:
            cfg["ssl_params"] = board.ssl_params(cfg["tls"], cfg["host"])
        self.unit = Unit(cfg, self.outbox, self.indicator, clock)
        self.link = Link(cfg, self.unit.received, clock, board.random_ms)
        self.unit.link = self.link
        self._was_busy = False
        self._last_code = None
        self._last_code_at = 0
        self._triggered = self._status_at = clock()
        self.repeats = 0  # reads of a code already taken from the same visitor

    def turn(self):
        board = self.board
        busy = self.indicator.busy() or self.unit.waiting is not None
        _, sock_ready = board.wait(BUSY_MS if busy else IDLE_MS, self.link.socket())
        now = board.ticks_ms()
        board.feed()
        for code in self.scanner.poll():
            self._code(code, now)
        self.link.service(now, sock_ready)
        # a connect attempt can block up to socket_timeout_s: never with a visitor waiting
        if not busy and self.link.due(now) and self.board.network_up() \
                and self.link.connect(now, self.status()):
            self.unit.connected()
            self._status_at = now
        self.unit.tick(board.ticks_ms())
        self._periodic(now, busy)
        if self._was_busy and not busy:
            gc.collect()  # between visitors, not while one waits
        self._was_busy = busy

    def status(self):
        """The unit's status fields, with the scanner's health and reject counters."""
        fields = self.unit.status()
        # the module answers every command; silence means it is unplugged or miswired
        fields["health"]["scanner"] = "ok" if self.scanner.answers else "fault: no answer"
        fields["metrics"]["rejected"] = self.scanner.rejected
        fields["metrics"]["repeats"] = self.repeats
        return fields

    def _code(self, code, now):
        cfg = self.cfg
        if code == self._last_code and ticks_diff(now, self._last_code_at) < cfg["same_code_ms"]:
            self.repeats += 1
            self._last_code_at = now
            return
        self._last_code, self._last_code_at = code, now
        self.unit.scanned(code, now)

    def _periodic(self, now, busy):
        cfg = self.cfg
        if busy:
            return
        if cfg["scanner_mode"] == "trigger" and \
                ticks_diff(now, self._triggered) >= cfg["trigger_every_ms"]:
            self.scanner.trigger()
            self._triggered = now
        if self.link.connected and ticks_diff(now, self._status_at) >= cfg["status_every_ms"]:
            self._status_at = now
            self.link.update_status(self.status())

    def run(self):
        while self.board.running():
            self.turn()
