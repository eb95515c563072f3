"""The entry policy of this kiosk's door, as the gateway last sent it, kept on disk.

The gateway publishes it retained (protocol kind `policy`, docs/protocol.md) from the
door's venue category; the kiosk applies it to the decisions it makes itself
(firmware/kiosk/decide.py). A kiosk that starts while the gateway is down follows the
policy it last heard, so a hospital door does not fail open after a power cut. A file that
cannot be read is no policy at all, logged: the colour alone decides, as before any
policy was sent.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from firmware import protocol
from firmware.kiosk.fsync import fsync_path
from firmware.verdict import NO_POLICY, Policy

log = logging.getLogger(__name__)


class DoorPolicy:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.current: Policy = NO_POLICY
        self.received_ms: int | None = None
        try:
            saved = json.loads(path.read_text())
            self.current = Policy.from_dict(saved["policy"])
            self.received_ms = int(saved["ts"])
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("door policy in %s not read (%s): following none", path, exc)

    def take(self, msg: dict) -> bool:
        """A validated policy message from the gateway; True when the policy changed."""
        policy = protocol.policy_of(msg)
        self.received_ms = msg["ts"]
        if policy == self.current and self.path.exists():
            return False
        self._save(policy, msg["ts"])
        self.current = policy
        log.info("door policy now %r", policy)
        return True

    def _save(self, policy: Policy, ts: int) -> None:
        tmp = self.path.with_suffix(".partial")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "w") as out:
            json.dump({"policy": policy.to_dict(), "ts": ts}, out)
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(self.path)
        fsync_path(self.path.parent)
