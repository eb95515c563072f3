"""MLX90614 infrared thermometer over I2C (SMBus): the object temperature a visitor's
forehead shows, in hundredths of a degree Celsius.

Like micropython-lib's drivers it is given its bus (`machine.I2C` on the board,
sim_pins.SimI2C off it) and allocates no hardware itself. The sensor answers a read of
RAM register 0x07 (object 1) or 0x06 (ambient) with three bytes: the 16-bit value, low
byte first, and a PEC byte, the SMBus CRC-8 over the whole transaction, so a reading
garbled on a long cable is refused instead of believed. The value counts 0.02 K; its top
bit set is the sensor's own error flag.

Every failure raises SensorError with a short reason, which the board reports to the Pi
in place of a reading (docs/board-protocol.md TEMPERATURE): `no_answer` (nothing
acknowledged the address: unplugged, wrong address, broken wire), `bad_crc`,
`sensor_flag`.
"""

ADDRESS = 0x5A  # factory default SMBus address
OBJECT = 0x07  # RAM: object temperature (Tobj1)
AMBIENT = 0x06  # RAM: the sensor's own die temperature (Ta)


class SensorError(Exception):
    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def crc8(data, crc=0):
    """SMBus packet error code: CRC-8, polynomial x^8 + x^2 + x + 1 (0x07), init 0."""
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def centi_celsius(raw):
    """A raw reading (units of 0.02 K) in hundredths of a degree Celsius."""
    return raw * 2 - 27315


class MLX90614:
    def __init__(self, i2c, address=ADDRESS):
        self.i2c = i2c
        self.address = address

    def read(self, register):
        """The raw 15-bit value of one RAM register, checked."""
        try:
            data = self.i2c.readfrom_mem(self.address, register, 3)
        except OSError:  # no ACK (ENODEV / EIO on the RP2040) or a bus timeout
            raise SensorError("no_answer") from None
        if len(data) != 3:
            raise SensorError("no_answer")
        frame = bytes((self.address << 1, register, (self.address << 1) | 1, data[0], data[1]))
        if crc8(frame) != data[2]:
            raise SensorError("bad_crc")
        raw = data[0] | (data[1] << 8)
        if raw & 0x8000:
            raise SensorError("sensor_flag")
        return raw

    def object_cc(self):
        """The object (forehead) temperature, in hundredths of a degree Celsius."""
        return centi_celsius(self.read(OBJECT))

    def ambient_cc(self):
        return centi_celsius(self.read(AMBIENT))
