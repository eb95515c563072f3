"""Run a kiosk: python -m firmware.kiosk --config /etc/placecode/kiosk.toml"""

import sys

from firmware.kiosk.process import main

if __name__ == "__main__":
    sys.exit(main())
