"""Stand-ins for the shop unit's tests: a UART fed by the test, pins that record, a clock
the test moves, a scratch directory on either interpreter's filesystem."""

import os


class FakeUart:
    def __init__(self):
        self.rx = b""
        self.tx = []

    def feed(self, data):
        self.rx += data

    def any(self):
        return len(self.rx)

    def read(self, n):
        data, self.rx = self.rx[:n], self.rx[n:]
        return data or None

    def write(self, data):
        self.tx.append(bytes(data))
        return len(data)


class FakePins:
    def __init__(self):
        self.events = []  # (name, value)

    def led(self, red, green):
        self.events.append(("led", (red, green)))

    def tone(self, freq):
        self.events.append(("tone", freq))

    def relay(self, on):
        self.events.append(("relay", on))


class Clock:
    def __init__(self, now=1000):
        self.now = now

    def __call__(self):
        return self.now


def _rmtree(path):
    try:
        names = os.listdir(path)
    except OSError:
        return
    for name in names:
        full = path + "/" + name
        try:
            os.remove(full)
        except OSError:
            _rmtree(full)
    os.rmdir(path)


_made = [0]


def scratch():
    """A new empty directory."""
    try:
        import tempfile

        return tempfile.mkdtemp()
    except ImportError:
        _made[0] += 1
        path = "/scratch-%d" % _made[0]
        _rmtree(path)
        os.mkdir(path)
        return path


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def write_file(path, data):
    with open(path, "wb") as f:
        f.write(data)


def clean(path):
    _rmtree(path)
