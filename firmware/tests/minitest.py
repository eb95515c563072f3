"""A unittest-sized runner that works the same under CPython and MicroPython.

The WebAssembly MicroPython has no unittest; micropython-lib's one would have to be
fetched onto its filesystem. This is the handful of asserts the firmware tests use,
so one test file is byte-for-byte the same suite on both interpreters.
"""

import sys


class AssertionFailed(AssertionError):
    pass


class _Raises:
    def __init__(self, exc):
        self.exc = exc
        self.exception = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            raise AssertionFailed("%s not raised" % self.exc.__name__)
        if not issubclass(exc_type, self.exc):
            return False
        self.exception = exc
        return True


class TestCase:
    def setUp(self):
        pass

    def tearDown(self):
        pass

    def fail(self, msg):
        raise AssertionFailed(msg)

    def assertEqual(self, a, b, msg=""):
        if a != b:
            self.fail("%r != %r %s" % (a, b, msg))

    def assertNotEqual(self, a, b, msg=""):
        if a == b:
            self.fail("%r == %r %s" % (a, b, msg))

    def assertTrue(self, x, msg=""):
        if not x:
            self.fail("not true: %r %s" % (x, msg))

    def assertFalse(self, x, msg=""):
        if x:
            self.fail("not false: %r %s" % (x, msg))

    def assertIn(self, x, container, msg=""):
        if x not in container:
            self.fail("%r not in %r %s" % (x, container, msg))

    def assertLessEqual(self, a, b, msg=""):
        if not a <= b:
            self.fail("%r > %r %s" % (a, b, msg))

    def assertGreaterEqual(self, a, b, msg=""):
        if not a >= b:
            self.fail("%r < %r %s" % (a, b, msg))

    def assertRaises(self, exc):
        return _Raises(exc)


def cases(module):
    """[(class, method name)] of every test in a module, in a stable order."""
    found = []
    for name in sorted(dir(module)):
        obj = getattr(module, name)
        if isinstance(obj, type) and issubclass(obj, TestCase) and obj is not TestCase:
            for meth in sorted(dir(obj)):
                if meth.startswith("test"):
                    found.append((obj, meth))
    return found


def run_case(cls, meth):
    case = cls()
    case.setUp()
    try:
        getattr(case, meth)()
    finally:
        case.tearDown()


def _print_exception(exc):
    if hasattr(sys, "print_exception"):
        sys.print_exception(exc)
    else:
        import traceback

        traceback.print_exception(type(exc), exc, exc.__traceback__)


def main(module_names):
    """Run every test of the named modules; print one line each and a summary line."""
    passed = failed = 0
    for mod_name in module_names:
        module = __import__(mod_name, None, None, ["_"])
        for cls, meth in cases(module):
            label = "%s.%s.%s" % (mod_name.split(".")[-1], cls.__name__, meth)
            try:
                run_case(cls, meth)
            except Exception as exc:  # report every failure, run the rest
                failed += 1
                print("FAIL", label)
                _print_exception(exc)
            else:
                passed += 1
                print("ok  ", label)
    print("minitest: %d passed, %d failed" % (passed, failed))
    return failed
