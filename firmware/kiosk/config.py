"""The kiosk's configuration: one TOML file, validated as a whole at start.

Unknown keys are errors (a typo must not silently fall back to a default), and every
error names the key, so an installer sees at once what to fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from firmware import protocol
from firmware.config_file import BrokerConfig, ConfigError, Strict, load_model

__all__ = ["ConfigError", "KioskConfig", "load"]


# Device kinds that only the simulators may start (python -m simulators.kiosk): an
# installed kiosk refuses them, so it can never feed made-up visitors into a real site.
SIMULATED_INPUTS = ("simulated", "scripted", "camera_files")
SIMULATED_SIGNALS = ("lights",)


class InputConfig(Strict):
    """The kiosk's camera. Simulator kinds: made-up visitors (simulated), readings from
    standard input (scripted), a folder of images played as frames (camera_files)."""

    kind: Literal["camera", "simulated", "scripted", "camera_files"]
    seed: int = 1
    rate_hz: float = Field(0.5, gt=0, le=50)
    platform_seed: int = 7  # the simulated visitors are people the platform simulator knows
    files: Path | None = None  # camera_files: a folder of images played as camera frames


class ReaderConfig(Strict):
    """The resident-ID-card reader (SAM serial); absent when the kiosk has none."""

    port: str = "/dev/placecode-reader"
    baud: Literal[9600, 19200, 38400, 57600, 115200] = 115200


class SignalConfig(Strict):
    """Lights, buzzer and gate: the board on its serial port (simulator kind: lights)."""

    kind: Literal["board", "lights"]
    port: str = "/dev/placecode-board"
    audio_dir: Path | None = None  # voice prompts (just board-audio); none: silent
    screen_port: int | None = 8089  # the local status page for the HDMI panel


class ThermometerConfig(Strict):
    """An infrared thermometer on the door's board (MLX90614; the board's settings.json
    says `"thermometer": "mlx90614"`). Each scan carries the reading; at or above
    `threshold_c` the visitor is held for the person on duty. The gateway applies its own
    `[temperature] threshold_c` to the verdicts it gives: set both alike. Absent: a door
    without a thermometer, as before."""

    threshold_c: float = Field(37.3, ge=35.0, le=42.0)
    timeout_s: float = Field(0.3, gt=0, le=2)  # the board's answer; none in time: no reading


class TrustConfig(Strict):
    root_keys: Path  # PEM file with the site root public key(s) that sign the lists


class KioskConfig(Strict):
    site: str
    kiosk: str
    door: str
    data_dir: Path
    verdict_timeout_s: float = Field(1.5, gt=0, le=30)
    status_interval_s: float = Field(10.0, gt=0)
    resend_after_s: float = Field(5.0, gt=0)  # resend scans the gateway has not confirmed
    # Accepted so configs of earlier releases still load; nothing waits on it any more: a
    # new outbox numbers in a new epoch at once (docs/protocol.md §1.9).
    seq_sync_s: float = Field(5.0, ge=0)
    outbox_alarm: int = Field(200_000, ge=1)  # backlog that raises the "outbox" fault
    broker: BrokerConfig = BrokerConfig()
    input: InputConfig
    reader: ReaderConfig | None = None
    signal: SignalConfig
    trust: TrustConfig | None = None  # signed offline codes are checked only with it
    thermometer: ThermometerConfig | None = None  # only with signal.kind = "board"
    # what the gate does when nothing could be checked: "closed" (the person on duty
    # opens it) or "open" (the site lets people through and checks by hand)
    gate_unchecked: Literal["closed", "open"] = "closed"

    @field_validator("site")
    @classmethod
    def _site_name(cls, value: str) -> str:
        return _checked(lambda: protocol.check_name(value, "site"))

    @field_validator("kiosk")
    @classmethod
    def _kiosk_name(cls, value: str) -> str:
        return _checked(lambda: protocol.check_kiosk_name(value))


def _checked(check) -> str:
    try:
        return check()
    except protocol.ProtocolError:
        raise ValueError("must be 1-64 of a-z 0-9 - _ (and not a reserved name)") from None


def load(path: Path) -> KioskConfig:
    return load_model(path, KioskConfig)


def simulated_devices(cfg: KioskConfig) -> list[str]:
    """The config keys that name a simulated device, e.g. ["input.kind = 'simulated'"]."""
    found = []
    if cfg.input.kind in SIMULATED_INPUTS:
        found.append(f"input.kind = {cfg.input.kind!r}")
    if cfg.signal.kind in SIMULATED_SIGNALS:
        found.append(f"signal.kind = {cfg.signal.kind!r}")
    return found
