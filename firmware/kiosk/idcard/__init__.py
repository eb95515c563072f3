"""Second-generation ID card reader (SAM_V serial protocol, GA 467): people without a
smartphone lay their card on the kiosk's reader instead of showing a health code.

Layers, each usable alone: `frame` (bytes on the wire), `status` (what the SAM's SW3 byte
means), `driver` (one reader on one serial port), `record` + `idnumber` + `codes` (what the
256-byte text block says), `source` (the kiosk's ReadingSource), `read_card` (installer CLI).
"""
