"""Hardware abstraction: one small interface per device, so simulators can stand in."""
