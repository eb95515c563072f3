"""The board's settings, checked once at start so a typo stops the board, not the door.

Defaults suit a single-leaf door with a fail-secure strike: with the Pi silent the gate
stays locked and a member of staff checks people by hand. A site whose fire plan needs
free passage sets gate_safe_state = "free".
"""

DEFAULTS = {
    "heartbeat_timeout_ms": 3000,  # no valid frame from the Pi this long -> manual check
    "gate_safe_state": "locked",  # "locked": relay off; "free": relay held while fail-safe
    "max_gate_ms": 8000,  # a gate command is clamped to this; the relay never stays longer
    "max_show_ms": 15000,  # a verdict display is clamped to this
    "beam_debounce_ms": 15,
    "tamper_debounce_ms": 50,
    "event_retry_ms": 300,  # unacknowledged events are re-sent this often
    "max_pending_events": 64,  # past this the oldest unacknowledged event is dropped
    "thermometer": "none",  # "mlx90614": an infrared thermometer on I2C0 (hardware/pins.md)
}

_CHOICES = {"gate_safe_state": ("locked", "free"), "thermometer": ("none", "mlx90614")}
_LIMITS = {
    "heartbeat_timeout_ms": (500, 60000),
    "max_gate_ms": (100, 30000),
    "max_show_ms": (100, 60000),
    "beam_debounce_ms": (0, 500),
    "tamper_debounce_ms": (0, 2000),
    "event_retry_ms": (50, 10000),
    "max_pending_events": (1, 1024),
}


class ConfigError(ValueError):
    pass


def make_config(overrides=None):
    """Defaults merged with `overrides`; unknown keys and bad values raise ConfigError."""
    config = dict(DEFAULTS)
    for key, value in (overrides or {}).items():
        if key not in DEFAULTS:
            raise ConfigError("unknown board setting '%s'" % key)
        if key in _CHOICES and value not in _CHOICES[key]:
            raise ConfigError("%s must be one of %s, not %r" % (key, _CHOICES[key], value))
        if key in _LIMITS:
            low, high = _LIMITS[key]
            if not isinstance(value, int) or not low <= value <= high:
                raise ConfigError("%s must be an integer %d..%d, not %r" % (key, low, high, value))
        config[key] = value
    return config
