"""Stand-ins for every piece of hardware and for the city platform, so a whole site runs here."""
