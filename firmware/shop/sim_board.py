"""The shop unit's board inside the test harness: the real firmware, with its UART, pins,
clock-driven waits and TCP sockets carried over one request/response channel.

Under MicroPython's WebAssembly port in Node (firmware/tests/shop_node.mjs) there is no
network and no UART. The Node side registers a `harness` module whose call(request) sends
one JSON line to the Python harness (simulators/shop_unit.py) and blocks until its answer
line: the harness owns real TCP connections to the real broker, the scanner simulator's
pty, and the timeline of LED, buzzer and relay changes. So the firmware's own bytes reach
Mosquitto and the gateway, and the simulated scanner module's bytes reach the firmware.

Every call samples gc.mem_alloc(): the peak is the heap the firmware needed (an upper
bound of its live data, since garbage counts until a collection).
"""

import gc
import json

import harness  # registered by firmware/tests/shop_node.mjs

from time import ticks_diff, ticks_ms, ticks_us

EAGAIN = 11
ETIMEDOUT = 110
ERRNO = {"ECONNREFUSED": 111, "ECONNRESET": 104, "ETIMEDOUT": 110, "EPIPE": 32}

peak_heap = 0
rx_us = 0  # when the UART last returned bytes (for "code line received -> LED on")


def call(op, **args):
    global peak_heap
    used = gc.mem_alloc()
    if used > peak_heap:
        peak_heap = used
    args["op"] = op
    answer = json.loads(harness.call(json.dumps(args)))
    if "err" in answer:
        raise OSError(ERRNO.get(answer["err"], 5))
    return answer


# --- the socket module umqtt.simple sees (installed as `usocket`) ---------------------


class socket:  # noqa: N801 - the socket module's name for it
    def __init__(self, *args):
        self.handle = None
        self.timeout = None  # None: blocking; 0: non-blocking; else seconds

    def connect(self, addr):
        self.handle = call("connect", host=addr[0], port=addr[1],
                           t=self.timeout if self.timeout else 5)["c"]

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
        call("send", c=self.handle, d=data.hex())
        return len(data)

    def read(self, n):
        t = -1 if self.timeout is None else self.timeout
        got = call("recv", c=self.handle, n=n, t=t)
        if got.get("none"):
            return None  # non-blocking and nothing there
        return bytes.fromhex(got["d"])

    def close(self):
        if self.handle is not None:
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

    def random_ms(self, n):
        import random

        return random.getrandbits(16) % max(1, n)

    def wait(self, ms, sock):
        got = call("wait", t=ms, c=sock.handle if sock is not None else None)
        self._stop = got.get("stop", False)
        self.uart.ready = got["uart"]
        return got["uart"], got["sock"]

    def feed(self):
        pass

    def running(self):
        return not self._stop


def main():
    """Run the unit until the harness says stop; report counters and the heap peak."""
    from firmware.shop import app

    cfg = app.load_config(call("config")["cfg"])
    board = SimBoard()
    unit_app = app.App(board, cfg)
    while board.running():
        unit_app.turn()
        if board.latencies_us:
            call("shown", us=board.latencies_us)
            board.latencies_us = []
    call("done", report={
        "peak_heap": peak_heap,
        "rejected": unit_app.scanner.rejected,
        "codes": unit_app.scanner.codes,
        "answers": unit_app.scanner.answers,
        "shown": unit_app.unit.shown,
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
        client.publish(topic, b"%d" % i, False, 1)
        while not got:
            client.wait_msg()
        out.append(ticks_diff(ticks_us(), start))
    client.disconnect()
    return out
