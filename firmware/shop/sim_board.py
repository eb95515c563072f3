"""The shop unit's board inside the test harness: the real firmware, with its UART, pins,
clock-driven waits and TCP sockets carried over one request/response channel.

Under MicroPython's WebAssembly port in Node (firmware/tests/shop_node.mjs) there is no
network and no UART. The Node side registers a `harness` module whose call(request) sends
one JSON line to the Python harness (simulators/shop_unit.py) and blocks until its answer
line: the harness owns real TCP connections to the real broker, the scanner simulator's
pty, and the timeline of LED, buzzer and relay changes. So the firmware's own bytes reach
Mosquitto and the gateway, and the simulated scanner module's bytes reach the firmware.

A socket keeps what the harness handed it beyond the bytes asked for, as a kernel's
receive buffer would, and sends its writes when it next reads, waits or closes, so a
packet that umqtt.simple reads byte by byte or writes in pieces costs one crossing, not
ten: what is timed is the firmware, not the bridge.

With `heap_probe` (the harness asks for it; it costs a collection per call) every call
first collects garbage and then reads gc.mem_alloc(): the peak is the most live heap the
firmware held at any I/O point, its bytecode included (compiled here from source; a frozen
image keeps that in flash). Timed runs leave it off.
"""

import gc
import json
from time import ticks_diff, ticks_ms, ticks_us

import harness  # registered by firmware/tests/shop_node.mjs

EAGAIN = 11
ETIMEDOUT = 110
ERRNO = {"ECONNREFUSED": 111, "ECONNRESET": 104, "ETIMEDOUT": 110, "EPIPE": 32}

peak_heap = 0
heap_probe = False
rx_us = 0  # when the UART last returned bytes (for "code line received -> LED on")
_sockets = []  # open sockets, to send what they hold before any other call


def call(op, **args):
    global peak_heap
    if heap_probe:
        gc.collect()
        used = gc.mem_alloc()
        peak_heap = max(peak_heap, used)
    if op != "send":
        for sock in _sockets:
            sock.flush()
    args["op"] = op
    answer = json.loads(harness.call(json.dumps(args)))
    if "err" in answer:
        raise OSError(ERRNO.get(answer["err"], 5))
    return answer


# --- the socket module umqtt.simple sees (installed as `usocket`) ---------------------


class socket:  # the socket module's name for it
    def __init__(self, *args):
        self.handle = None
        self.timeout = None  # None: blocking; 0: non-blocking; else seconds
        self.rx = b""
        self.tx = []

    def connect(self, addr):
        self.handle = call("connect", host=addr[0], port=addr[1],
                           t=self.timeout if self.timeout else 5)["c"]
        _sockets.append(self)

    def flush(self):
        if self.tx and self.handle is not None:
            data = b"".join(self.tx)
            self.tx = []
            call("send", c=self.handle, d=data.hex())

    def settimeout(self, t):
        self.timeout = t

    def setblocking(self, flag):
        self.timeout = None if flag else 0

    def setsockopt(self, *args):
        pass

    def write(self, data, n=None):
        if isinstance(data, str):
            data = data.encode()
        data = bytes(data if n is None else memoryview(data)[:n])
        if self.handle is None:
            raise OSError(ERRNO["EPIPE"])
        self.tx.append(data)
        return len(data)

    def pending(self):
        return len(self.rx)

    def read(self, n):
        if len(self.rx) < n:
            t = -1 if self.timeout is None else self.timeout
            got = call("recv", c=self.handle, n=n - len(self.rx), t=t)
            if got.get("none"):
                if not self.rx:
                    return None  # non-blocking and nothing there
            else:
                self.rx += bytes.fromhex(got["d"])
        data, self.rx = self.rx[:n], self.rx[n:]
        return data

    def close(self):
        if self.handle is not None:
            if self in _sockets:
                _sockets.remove(self)
            call("close", c=self.handle)
            self.handle = None


def getaddrinfo(host, port, *args):
    return [(2, 1, 0, "", (host, port))]


# --- the board ------------------------------------------------------------------------


class _Uart:
    def __init__(self):
        self.ready = False

    def any(self):
        return 1 if self.ready else 0

    def read(self, n):
        global rx_us
        data = bytes.fromhex(call("uart_read", n=n)["d"])
        self.ready = False
        if data:
            rx_us = ticks_us()
        return data or None

    def write(self, data):
        call("uart_write", d=bytes(data).hex())
        return len(data)


class SimBoard:
    def __init__(self):
        self.uart = _Uart()
        self._stop = False
        self._leds = (0, 0)
        self.latencies_us = []  # code line received -> LED on, per verdict shown

    def led(self, red, green):
        if self._leds == (0, 0) and (red or green):
            self.latencies_us.append(ticks_diff(ticks_us(), rx_us))
        self._leds = (red, green)
        call("pin", name="led", v=[red, green])

    def tone(self, freq):
        call("pin", name="buzzer", v=freq)

    def relay(self, on):
        call("pin", name="relay", v=bool(on))

    def ticks_ms(self):
        return ticks_ms()

    def network_up(self):
        return True  # the harness's TCP is always there; the broker may not be

    def random_ms(self, n):
        import random

        return random.getrandbits(16) % max(1, n)

    def wait(self, ms, sock):
        if sock is not None and sock.pending():
            ms = 0  # bytes already here: only look at the UART
        got = call("wait", t=ms, c=sock.handle if sock is not None else None)
        if sock is not None and sock.pending():
            got["sock"] = True
        self._stop = got.get("stop", False)
        self.uart.ready = got["uart"]
        return got["uart"], got["sock"]

    def feed(self):
        pass  # no watchdog here

    def running(self):
        return not self._stop


_app = None
_board = None
_heap = {}


def setup():
    """Start the unit (Node then calls turn() until it returns False, then finish()).
    Node drives the loop one turn per call: the WebAssembly port's collector reclaims
    nothing while one long runPython() is still running."""
    global heap_probe, _app, _board
    gc.collect()
    _heap["before"] = gc.mem_alloc()  # the interpreter, json and this bridge
    from umqtt import simple  # noqa: F401 - imported by the link anyway; counted as code

    from firmware.shop import app

    gc.collect()
    _heap["imported"] = gc.mem_alloc()  # + the firmware's bytecode (compiled from source)
    config = call("config")
    cfg = app.load_config(config["cfg"])
    heap_probe = config.get("heap_probe", False)
    _board = SimBoard()
    _app = app.App(_board, cfg)
    gc.collect()
    _heap["started"] = gc.mem_alloc()  # + the unit's state


def turn():
    _app.turn()
    return _board.running()


def finish():
    """Report counters and the heap to the harness."""
    unit_app = _app
    call("done", report={
        "peak_heap": max(peak_heap, _heap["started"]),
        "heap_before_firmware": _heap["before"],
        "heap_firmware_imported": _heap["imported"],
        "heap_started": _heap["started"],
        "rejected": unit_app.scanner.rejected,
        "codes": unit_app.scanner.codes,
        "repeats": unit_app.repeats,
        "answers": unit_app.scanner.answers,
        "shown": unit_app.unit.shown,
        "sources": unit_app.unit.sources,
        "refused": unit_app.unit.refused,
        "outbox": unit_app.outbox.count,
        "last_seq": unit_app.outbox.last_seq,
        "connects": unit_app.link.connects,
        "link_error": unit_app.link.last_error,
        "link_rejected": unit_app.link.rejected,
    })


def bare_round_trips(cfg, count):
    """The bare broker round trip through the same bridge: umqtt.simple publishes QoS 1 to
    a topic it subscribes to and waits for the message back, `count` times (µs each)."""
    from umqtt.simple import MQTTClient

    got = []
    client = MQTTClient("bare-" + cfg["unit"], cfg["host"], cfg["port"], cfg.get("username"),
                        cfg.get("password"))
    client.set_callback(lambda t, m: got.append(m))
    client.connect()
    topic = ("placecode/%s/%s/bare" % (cfg["site"], cfg["unit"])).encode()
    client.subscribe(topic, 1)
    out = []
    for i in range(count):
        del got[:]
        start = ticks_us()
        call("mark")  # the harness times between marks with its own clock
        client.publish(topic, b"%d" % i, False, 1)
        while not got:
            client.wait_msg()
        call("mark")
        out.append(ticks_diff(ticks_us(), start))
    client.disconnect()
    return out
