"""python -m provisioning: see provisioning/cli.py."""

import sys

from provisioning.cli import main

sys.exit(main())
