"""Venues, doors and kiosks: registration, posters, and per-kiosk credentials."""
