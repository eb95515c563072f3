"""The unit's MQTT session, on micropython-lib's umqtt.simple.

umqtt.simple speaks MQTT 3.1.1 over any object with read/write; it blocks on its socket.
Every socket it opens here goes through `TimedSocket`, so no read or connect waits longer
than `timeout_s` for a broker that went silent (umqtt.simple sets a socket blocking with
no timeout after each packet's first byte). umqtt.robust is not used: its reconnect loops
with sleeps until the broker is back, and the door must keep answering visitors (from the
outbox, with the manual-check signal) while the broker is away. Reconnects here are
attempted between visitors, with a capped, jittered backoff.

Session as docs/protocol.md §1.1 and §1.5 ask: client id `kiosk-<site>-<unit>`, persistent
session, last will `offline` (retained), `online` status published on connect, verdicts
and acks subscribed at QoS 1, a PINGREQ every keepalive/2 and the link dropped when the
broker has been silent for 1.5 keepalives.
"""

try:
    from time import ticks_add, ticks_diff
except ImportError:  # CPython
    from firmware.board.ticks import ticks_add, ticks_diff

from firmware import protocol


class TimedSocket:
    """A socket whose blocking reads and writes give up after `timeout_s`."""

    def __init__(self, sock, timeout_s):
        self.sock = sock
        self.timeout_s = timeout_s
        sock.settimeout(timeout_s)

    def connect(self, addr):
        self.sock.connect(addr)

    def setblocking(self, flag):
        if flag:
            self.sock.settimeout(self.timeout_s)
        else:
            self.sock.setblocking(False)

    def read(self, n):
        return self.sock.read(n)

    def write(self, data, n=None):
        if n is not None:
            data = memoryview(data)[:n]
        return self.sock.write(data)

    def close(self):
        self.sock.close()


class TimedSockets:
    """Stands in for the socket module inside umqtt.simple."""

    def __init__(self, module, timeout_s):
        self.module = module
        self.timeout_s = timeout_s

    def socket(self):
        sock = self.module.socket()
        nodelay = getattr(self.module, "TCP_NODELAY", None)
        if nodelay is not None:
            try:
                sock.setsockopt(self.module.IPPROTO_TCP, nodelay, 1)
            except (OSError, AttributeError):
                pass
        return TimedSocket(sock, self.timeout_s)

    def getaddrinfo(self, host, port):
        return self.module.getaddrinfo(host, port)


class Link:
    """One broker connection at a time; `on_message(kind, msg)` gets checked verdicts and
    acks for this unit. `rejected` counts bad messages by reason (docs/protocol.md §1.6)."""

    def __init__(self, cfg, on_message, clock, random_ms=None, client_class=None):
        if client_class is None:
            from umqtt import simple

            if not isinstance(simple.socket, TimedSockets):
                simple.socket = TimedSockets(simple.socket, cfg.get("socket_timeout_s", 2))
            client_class = simple.MQTTClient
        self.cfg = cfg
        self.site = cfg["site"]
        self.unit = cfg["unit"]
        self.on_message = on_message
        self.clock = clock
        self.random_ms = random_ms or (lambda n: 0)
        self.keepalive_s = cfg.get("keepalive_s", 5)
        self.client = client_class(
            "kiosk-%s-%s" % (self.site, self.unit), cfg["host"], cfg.get("port", 1883),
            cfg.get("username"), cfg.get("password"), self.keepalive_s,
            **({"ssl": True, "ssl_params": cfg["ssl_params"]} if cfg.get("ssl_params") else {}))
        # (umqtt.simple 1.3.4 imports ussl and calls wrap_socket(sock, **ssl_params))
        self.client.set_callback(self._received)
        offline = protocol.encode(protocol.STATUS, protocol.status(self.unit, "offline"))
        self.client.set_last_will(self._topic(protocol.STATUS), offline, True, 1)
        self.connected = False
        self.connects = 0
        self.failures = 0
        self.rejected = {}
        self.last_error = None
        self._next_try = clock()
        self._last_rx = 0
        self._last_tx = 0

    def _topic(self, kind):
        return protocol.topic(self.site, self.unit, kind).encode()

    def socket(self):
        """The open socket (for select/poll), or None."""
        if not self.connected:
            return None
        sock = self.client.sock
        return sock.sock if isinstance(sock, TimedSocket) else sock

    # --- connection ---------------------------------------------------------------------

    def due(self, now):
        return not self.connected and ticks_diff(now, self._next_try) >= 0

    def connect(self, now, status_fields):
        """One attempt; True when connected, subscribed and announced online."""
        try:
            self.client.connect(False)
            self.connected = True
            self.client.subscribe(self._topic(protocol.VERDICT), 1)
            self.client.subscribe(self._topic(protocol.ACK), 1)
            self.publish_status(status_fields)
        except Exception as exc:  # refused CONNACK, socket error, timeout: retry later
            self._fail(now, exc)
            return False
        self.connects += 1
        self.failures = 0
        self._last_rx = self._last_tx = self.clock()
        return True

    def _fail(self, now, exc=None):
        self.last_error = repr(exc)
        self.drop()
        self.failures += 1
        backoff = min(30000, 500 * (1 << min(self.failures, 6)))
        self._next_try = ticks_add(now, backoff // 2 + self.random_ms(backoff // 2))

    def drop(self):
        if self.client.sock is not None:
            try:
                self.client.sock.close()
            except OSError:
                pass
            self.client.sock = None
        self.connected = False

    # --- traffic ------------------------------------------------------------------------

    def _wrap_packet_id(self):
        # umqtt.simple counts packet ids up without end; MQTT's are 1..65535 and a long
        # session (a scan plus a status a minute) passes that in about 40 days
        if self.client.pid >= 65535:
            self.client.pid = 0

    def publish(self, kind, payload, retain=False):
        """QoS 1 publish, waiting for the broker's PUBACK; False (link dropped) on failure."""
        if not self.connected:
            return False
        self._wrap_packet_id()
        try:
            self.client.publish(self._topic(kind), payload, retain, 1)
        except (OSError, IndexError, AssertionError) as exc:
            self._fail(self.clock(), exc)
            return False
        self._last_tx = self._last_rx = self.clock()
        return True

    def publish_status(self, fields):
        self._wrap_packet_id()
        msg = protocol.status(self.unit, "online", protocol.now_ms(), **fields)
        self.client.publish(self._topic(protocol.STATUS), protocol.encode(protocol.STATUS, msg),
                            True, 1)

    def update_status(self, fields):
        """The retained status again (fresh counters); False (link dropped) on failure."""
        if not self.connected:
            return False
        try:
            self.publish_status(fields)
        except (OSError, IndexError, AssertionError) as exc:
            self._fail(self.clock(), exc)
            return False
        self._last_tx = self._last_rx = self.clock()
        return True

    def service(self, now, readable):
        """Read one incoming packet if the socket is readable; keep the session alive."""
        if not self.connected:
            return
        try:
            if readable:
                self.client.wait_msg()
                self._last_rx = now
            if ticks_diff(now, self._last_rx) > self.keepalive_s * 1500:
                raise OSError(110)  # broker silent for 1.5 keepalives
            if ticks_diff(now, self._last_tx) > self.keepalive_s * 500:
                self.client.ping()
                self._last_tx = now
        except (OSError, IndexError, AssertionError) as exc:
            self._fail(now, exc)

    def _received(self, topic, payload):
        try:
            _, unit, kind, msg = protocol.decode(topic.decode(), payload)
            if unit != self.unit or kind not in (protocol.VERDICT, protocol.ACK):
                raise protocol.ProtocolError("bad_topic")
        except protocol.ProtocolError as exc:
            self.rejected[exc.reason] = self.rejected.get(exc.reason, 0) + 1
            return
        except UnicodeError:
            self.rejected["bad_topic"] = self.rejected.get("bad_topic", 0) + 1
            return
        self.on_message(kind, msg)
