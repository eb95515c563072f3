"""The Pi kiosk: input (camera, ID reader) → event → outbox → MQTT → verdict → signal."""

SOFTWARE_VERSION = "0.1.0"
