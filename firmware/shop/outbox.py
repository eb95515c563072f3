"""The unit's flash outbox: every accepted scan is on flash before the visitor sees a light.

Two files in `root`:
- `log.<gen>`: append-only records, each A5 | length (2 bytes, big-endian) | payload |
  CRC-32 of length and payload (4 bytes). The payload is the scan message exactly as
  published. A record is flushed before append() returns; a power cut while writing it
  leaves a torn tail that fails its length or CRC and is cut off at the next boot. That
  scan was never shown to the visitor (the light comes after the flush) nor published.
- `mark`: "<gen> <offset> <seq>": everything in log.<gen> before `offset` was
  acknowledged by the gateway, and `seq` is the highest sequence number issued before
  `offset` (or ever, once the log is empty). It is replaced atomically (written to
  `mark.tmp`, then renamed), so it is either the old mark or the new one: at worst a few
  acknowledged scans are sent again, which the gateway stores once (it is idempotent on
  event id).

Compaction writes the unacknowledged tail to log.<gen+1>, switches the mark to it, then
deletes the old log; a power cut anywhere in between leaves one consistent pair, and stray
files are removed at boot. Capacity is a byte budget for the log: a scan that does not fit
even after compaction is refused (append() returns None) and the caller gives the visitor
the manual-check signal; nothing already stored is ever dropped to make room.

Sequence numbers continue from the highest of the log, the mark, and the gateway's
`high_seq` (after a wiped flash the unit never reuses a number the gateway holds).
"""

import os

try:
    from binascii import crc32
except ImportError:  # pragma: no cover
    from zlib import crc32

MAGIC = 0xA5
HEADER = 3  # magic + length
TRAILER = 4  # CRC-32
MAX_PAYLOAD = 8192


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def _sync(f):
    f.flush()
    if hasattr(os, "fsync"):  # CPython; MicroPython's flush() already syncs the file
        os.fsync(f.fileno())


def frame(payload):
    """One record's bytes for `payload` (bytes)."""
    n = len(payload)
    head = bytes((MAGIC, n >> 8, n & 0xFF))
    crc = crc32(head[1:] + payload) & 0xFFFFFFFF
    return head + payload + bytes((crc >> 24, (crc >> 16) & 0xFF, (crc >> 8) & 0xFF, crc & 0xFF))


def read_record(f):
    """(payload, record length) of the record at the file's position, or None if what is
    there is not a whole, intact record (end of log, or a torn tail)."""
    head = f.read(HEADER)
    if len(head) < HEADER or head[0] != MAGIC:
        return None
    n = head[1] << 8 | head[2]
    if n == 0 or n > MAX_PAYLOAD:
        return None
    rest = f.read(n + TRAILER)
    if len(rest) < n + TRAILER:
        return None
    payload = rest[:n]
    crc = rest[n] << 24 | rest[n + 1] << 16 | rest[n + 2] << 8 | rest[n + 3]
    if crc != crc32(head[1:] + payload) & 0xFFFFFFFF:
        return None
    return payload, HEADER + n + TRAILER


def seq_of(payload):
    """The `seq` field of a stored scan, read without decoding the JSON."""
    at = payload.find(b'"seq": ')
    skip = 7
    if at < 0:
        at = payload.find(b'"seq":')
        skip = 6
    end = at + skip
    while end < len(payload) and 0x30 <= payload[end] <= 0x39:
        end += 1
    return int(payload[at + skip:end])


class Outbox:
    """Append, acknowledge, and read back unacknowledged records by file offset."""

    def __init__(self, root, capacity=256 * 1024):
        self.root = root
        self.capacity = capacity
        self.refused = 0  # scans refused because the outbox was full
        self.torn = 0  # torn tails cut off at boot
        path = ""
        for part in root.split("/"):
            path = path + "/" + part if path or root.startswith("/") else part
            if part and not _exists(path):
                os.mkdir(path)
        self._open()

    # --- files --------------------------------------------------------------------------

    def _path(self, name):
        return self.root + "/" + name

    def _log_path(self, gen):
        return self._path("log.%d" % gen)

    def _read_mark(self):
        try:
            with open(self._path("mark")) as f:
                gen, offset, seq = f.read().split()
            return int(gen), int(offset), int(seq)
        except (OSError, ValueError):
            return 0, 0, 0

    def _write_mark(self, gen, offset, seq):
        tmp = self._path("mark.tmp")
        with open(tmp, "w") as f:
            f.write("%d %d %d\n" % (gen, offset, seq))
            _sync(f)
        os.rename(tmp, self._path("mark"))
        self.gen, self.mark, self.mark_seq = gen, self.base + offset, seq

    def _open(self):
        # Offsets handed out are logical (physical + base) so they stay valid across a
        # compaction, which moves the records to the front of a new file.
        self.base = 0
        self.gen, self.mark, self.mark_seq = self._read_mark()
        for name in os.listdir(self.root):
            if name == "mark.tmp" or (name.startswith("log.") and name != "log.%d" % self.gen):
                _remove(self._path(name))
        path = self._log_path(self.gen)
        if not _exists(path):
            open(path, "wb").close()
        size = os.stat(path)[6]
        # walk the unacknowledged records: count them, find the last seq, find the end
        self.count = 0
        self.last_seq = self.mark_seq
        end = self.mark
        with open(path, "rb") as f:
            f.seek(self.mark)
            while True:
                got = read_record(f)
                if got is None:
                    break
                self.count += 1
                self.last_seq = max(self.last_seq, seq_of(got[0]))
                end += got[1]
                f.seek(end)
        self.end = end
        if end < size or self.mark > size:
            self.torn += 1
            self._compact()  # cut the torn tail (MicroPython files cannot be truncated)

    def _compact(self):
        """Copy the unacknowledged records to a new log and switch the mark to it."""
        new_gen = self.gen + 1
        old = self._log_path(self.gen)
        new = self._log_path(new_gen)
        with open(new, "wb") as out:
            if self.end > self.mark:
                with open(old, "rb") as f:
                    f.seek(self.mark - self.base)
                    left = self.end - self.mark
                    while left:
                        chunk = f.read(min(left, 512))
                        out.write(chunk)
                        left -= len(chunk)
            _sync(out)
        self.base = self.mark
        self._write_mark(new_gen, 0, self.mark_seq)
        _remove(old)

    # --- use ----------------------------------------------------------------------------

    def next_seq(self, high_seq=0):
        return max(self.last_seq, high_seq) + 1

    def append(self, seq, payload):
        """Store one scan; its offset, or None when the outbox is full (manual check)."""
        record = frame(payload)
        if self.end - self.base + len(record) > self.capacity and self.mark > self.base:
            self._compact()
        if self.end - self.mark + len(record) > self.capacity:
            self.refused += 1
            return None
        with open(self._log_path(self.gen), "ab") as f:
            f.write(record)
            _sync(f)
        at = self.end
        self.end += len(record)
        self.count += 1
        self.last_seq = max(self.last_seq, seq)
        return at

    def read(self, offset):
        """(payload, next offset) of the record at `offset`, or None at the end."""
        if offset >= self.end:
            return None
        with open(self._log_path(self.gen), "rb") as f:
            f.seek(offset - self.base)
            got = read_record(f)
        if got is None:
            return None
        return got[0], offset + got[1]

    def acknowledge_to(self, offset, seq, records):
        """The gateway holds every record before `offset` (`records` of them past the old
        mark; `seq` the highest among them): move the mark there."""
        if offset <= self.mark:
            return
        self.count -= records
        seq = max(seq, self.mark_seq)
        if offset >= self.end and self.end - self.base > self.capacity // 4:
            self.mark, self.mark_seq = offset, seq
            self._compact()  # all acknowledged: start an empty log
        else:
            self._write_mark(self.gen, offset - self.base, seq)

    def oldest(self):
        """Offset of the first unacknowledged record (== end when there is none)."""
        return self.mark

    def used(self):
        """Bytes of flash the log takes now."""
        return self.end - self.base
