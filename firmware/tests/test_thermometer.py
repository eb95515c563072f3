"""The door's infrared thermometer (MLX90614 on I2C): the driver's reading and checks, the
board answering MEASURE with a reading or with the fault, the board going on as before
when the sensor does not answer, and a reading above the threshold taking the visitor to
the manual check (firmware/verdict.py)."""

try:
    from firmware import board_link as link
    from firmware import verdict as verdicts
    from firmware.board.mlx90614 import MLX90614, SensorError, crc8
    from firmware.board.sim_pins import SimI2C, SimMLX90614
except ImportError:
    import board_link as link
    import verdict as verdicts
    from board.mlx90614 import MLX90614, SensorError, crc8
    from board.sim_pins import SimI2C, SimMLX90614

from .minitest import TestCase
from .rig import Rig

WITH_THERMOMETER = {"thermometer": "mlx90614"}
THRESHOLD_DC = 373  # 37.3 °C, the usual fever line


def temperatures(rig):
    """[(request seq, status, object centi-°C or None)] the Pi received."""
    out = []
    for frame in rig.frames(link.TEMPERATURE):
        seq, status, obj, _ambient = frame.fields()
        name = link.TEMP_STATUS[status]
        out.append((seq, name, link.centi_celsius(obj) if name == "ok" else None))
    return out


class Driver(TestCase):
    def test_the_packet_error_code_is_the_smbus_crc8(self):
        # MLX90614 datasheet, SMBus read example: SA 0x5A, command 0x07, data 0x3AD2
        self.assertEqual(crc8(bytes((0xB4, 0x07, 0xB5, 0xD2, 0x3A))), 0x30)

    def test_a_reading_in_hundredths_of_a_degree(self):
        sensor = SimMLX90614(object_cc=3655, ambient_cc=2401)
        mlx = MLX90614(SimI2C(sensor))
        self.assertEqual(mlx.object_cc(), 3655)
        self.assertEqual(mlx.ambient_cc(), 2401)

    def test_each_fault_has_its_reason(self):
        sensor = SimMLX90614()
        mlx = MLX90614(SimI2C(sensor))
        for setting, reason in (("answering", "no_answer"), ("garble", "bad_crc"),
                                ("flag", "sensor_flag")):
            sensor.answering, sensor.garble, sensor.flag = True, False, False
            setattr(sensor, setting, setting != "answering")
            try:
                mlx.object_cc()
            except SensorError as err:
                self.assertEqual(err.reason, reason)
            else:
                self.fail("no SensorError for " + setting)
        with self.assertRaises(SensorError):  # nothing at all on the bus
            MLX90614(SimI2C()).object_cc()


class Board(TestCase):
    def test_a_measure_is_answered_with_the_reading(self):
        rig = Rig(WITH_THERMOMETER, thermometer=SimMLX90614(object_cc=3655))
        rig.handshake()
        seq = rig.send(link.MEASURE)
        rig.run(20)
        self.assertEqual(temperatures(rig), [(seq, "ok", 3655)])

    def test_a_sensor_that_does_not_answer_is_reported_and_the_door_goes_on(self):
        sensor = SimMLX90614()
        sensor.answering = False
        rig = Rig(WITH_THERMOMETER, thermometer=sensor)
        rig.handshake()
        seq = rig.send(link.MEASURE)
        rig.run(20)
        self.assertEqual(temperatures(rig), [(seq, "no_answer", None)])
        self.assertEqual(rig.board.thermometer_faults, 1)
        # the board itself carries on: a verdict is shown and the gate opens
        show = rig.send(link.SHOW, link.LIGHTS.index("green"), 0, link.TONES.index("pass"), 500)
        gate = rig.send(link.GATE, 500)
        rig.run(50, every=20)
        self.assertEqual(rig.acks(show), [0])
        self.assertEqual(rig.acks(gate), [0])
        self.assertTrue(rig.pins.state["relay"])
        self.assertFalse(rig.board.failsafe)

    def test_a_board_without_a_thermometer_says_so(self):
        rig = Rig()
        rig.handshake()
        seq = rig.send(link.MEASURE)
        rig.run(20)
        self.assertEqual(temperatures(rig), [(seq, "no_sensor", None)])

    def test_a_reading_above_the_threshold_takes_the_manual_check_path(self):
        rig = Rig(WITH_THERMOMETER, thermometer=SimMLX90614(object_cc=3821))
        rig.handshake()
        rig.send(link.MEASURE)
        rig.run(20)
        (_seq, status, cc), = temperatures(rig)
        self.assertEqual(status, "ok")
        green = verdicts.for_colour("e1", "green")
        held = verdicts.with_temperature(green, cc // 10, THRESHOLD_DC)
        self.assertEqual((held.colour, held.action, held.prompt), ("green", "hold",
                                                                    "high_temperature"))
        self.assertFalse(verdicts.look_for(held).gate)
        self.assertEqual(verdicts.spoken(held.prompt), "staff_coming")
        # below the line, or a refusal, stays as it was
        normal = verdicts.with_temperature(green, 365, THRESHOLD_DC)
        self.assertEqual(normal.action, "open")
        red = verdicts.for_colour("e2", "red")
        self.assertEqual(verdicts.with_temperature(red, 390, THRESHOLD_DC).action, "refuse")
