"""The reader's own error types: anything that goes wrong on the line or the card becomes
one of these, so callers catch `IdCardError` and nothing else escapes from bad bytes.
"""

from __future__ import annotations


class IdCardError(Exception):
    """Base of every error the ID-card package raises on purpose."""


class FrameError(IdCardError):
    """A frame from the reader could not be used (bad checksum, cut short, malformed)."""


class ChecksumError(FrameError):
    """A complete frame arrived but its XOR checksum did not match (line noise)."""


class TruncatedFrame(FrameError):
    """A frame began but stopped before its announced length within the timeout."""


class MalformedFrame(FrameError):
    """A frame's structure is impossible (length too short for a response, bad envelope)."""


class ReaderTimeout(IdCardError):
    """The reader sent nothing usable within the command's timeout."""


class ReaderDisconnected(IdCardError):
    """The serial port is gone or cannot be opened (reader unplugged)."""


class RecordError(IdCardError):
    """The card's text block is not a valid card record (bad ID number, bad date...)."""
