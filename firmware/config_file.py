"""One TOML config file per host process (kiosk, gateway), validated whole at start.

Unknown keys are errors (a typo must not silently fall back to a default), and every
error names the file and the key, so an installer sees at once what to fix.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from firmware import mqtt_client

M = TypeVar("M", bound=BaseModel)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BrokerConfig(Strict):
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = None
    password: str | None = None
    keepalive: int = Field(5, ge=2, le=300)
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None

    def address(self) -> mqtt_client.BrokerAddress:
        return mqtt_client.BrokerAddress(
            self.host, self.port, self.username, self.password, self.keepalive,
            self.ca_file, self.cert_file, self.key_file,
        )


class ConfigError(Exception):
    """A config file that cannot be used; the message names the key and the problem."""


def describe(error: ValidationError) -> str:
    first = error.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "(file)"
    return f"{key}: {first['msg']}"


def load_model(path: Path, model: type[M]) -> M:
    """Read and validate one TOML config file; any problem is one ConfigError line that
    names the file, the key and what is wrong."""
    try:
        return model.model_validate(tomllib.loads(Path(path).read_text()))
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except ValidationError as exc:
        raise ConfigError(f"{path}: {describe(exc)}") from None
