"""The Pico W's hardware for the shop unit: the only module of the unit that imports
`machine` (and `network`). Pin numbers are hardware/shop-unit.md's pin map.

UART0 on GP0/GP1 talks to the scanner module at 115200 baud; the two-colour LED's red and
green legs are on GP14/GP15 (through 220 ohm), the buzzer (a transistor-driven passive
piezo) on GP16's PWM, the optional relay's driver on GP17 (pulled down on the board, so
it stays open through reset). A watchdog resets the unit if the loop stalls for 8 s;
the outbox on flash survives that.
"""

import select
import time

import machine
import network
from machine import PWM, UART, WDT, Pin

PINS = {"uart_tx": 0, "uart_rx": 1, "led_red": 14, "led_green": 15, "buzzer": 16,
        "relay": 17}
BAUD = 115200
WATCHDOG_MS = 8000


class Board:
    def __init__(self):
        self._relay = Pin(PINS["relay"], Pin.OUT, value=0)
        self._red = Pin(PINS["led_red"], Pin.OUT, value=0)
        self._green = Pin(PINS["led_green"], Pin.OUT, value=0)
        self._pwm = PWM(Pin(PINS["buzzer"]))
        self._pwm.duty_u16(0)
        self.uart = UART(0, BAUD, tx=Pin(PINS["uart_tx"]), rx=Pin(PINS["uart_rx"]),
                         rxbuf=1024)
        self._poll = select.poll()
        self._poll.register(self.uart, select.POLLIN)
        self._sock = None
        self._wdt = None
        self._wlan = None
        self._wifi = None  # (ssid, password) to rejoin with

    # --- network ------------------------------------------------------------------------

    def wifi(self, ssid, password, country="CN", timeout_ms=20000):
        network.country(country)
        wlan = network.WLAN(network.STA_IF)
        wlan.active(True)
        wlan.config(pm=0xA11140)  # power saving off: it adds up to 100 ms per packet
        wlan.connect(ssid, password)
        self._wlan, self._wifi = wlan, (ssid, password)
        deadline = time.ticks_add(time.ticks_ms(), timeout_ms)
        while not wlan.isconnected() and time.ticks_diff(deadline, time.ticks_ms()) > 0:
            time.sleep_ms(100)
        return wlan.isconnected()

    def network_up(self):
        """Whether a broker connect can be tried; a dropped Wi-Fi is rejoined in the
        background (connect() returns at once, the driver does the rest)."""
        wlan = self._wlan
        if wlan is None or wlan.isconnected():
            return True
        if wlan.status() not in (network.STAT_CONNECTING,):
            wlan.connect(*self._wifi)
        return False

    def ssl_params(self, files, host):
        """umqtt.simple's wrap_socket arguments: client certificate and key, and the site
        CA that the broker's certificate must chain to."""
        import ssl

        def read(path):
            with open(path, "rb") as f:
                return f.read()

        return {"key": read(files["key"]), "cert": read(files["cert"]),
                "cadata": read(files["ca"]), "cert_reqs": ssl.CERT_REQUIRED,
                "server_hostname": host}

    def start_watchdog(self):
        self._wdt = WDT(timeout=WATCHDOG_MS)

    # --- outputs ------------------------------------------------------------------------

    def led(self, red, green):
        self._red.value(red)
        self._green.value(green)

    def tone(self, freq):
        if freq:
            self._pwm.freq(freq)
            self._pwm.duty_u16(32768)
        else:
            self._pwm.duty_u16(0)

    def relay(self, on):
        self._relay.value(1 if on else 0)

    # --- loop ---------------------------------------------------------------------------

    def ticks_ms(self):
        return time.ticks_ms()

    def random_ms(self, n):
        import random

        return random.getrandbits(16) % max(1, n)

    def wait(self, ms, sock):
        """Sleep until the scanner or the broker has bytes, or `ms` passes."""
        if sock is not self._sock:
            if self._sock is not None:
                try:
                    self._poll.unregister(self._sock)
                except (OSError, KeyError):
                    pass
            if sock is not None:
                self._poll.register(sock, select.POLLIN)
            self._sock = sock
        uart = sockr = False
        for obj, _ in self._poll.poll(ms):
            if obj is self.uart:
                uart = True
            else:
                sockr = True
        return uart, sockr

    def feed(self):
        if self._wdt is not None:
            self._wdt.feed()

    def running(self):
        return True

    def reset_cause(self):
        return machine.reset_cause()
