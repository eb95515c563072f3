# ruff: noqa: F821  (metadata, include, require, package: given by the manifest tool)
# MicroPython manifest for a firmware image with the shop unit frozen in (bytecode in flash,
# so the heap holds only data): `make -C ports/rp2 BOARD=RPI_PICO_W
# FROZEN_MANIFEST=<repo>/firmware/shop/manifest.py`. Without a custom image,
# `just shop-deploy` copies the same files to the device's filesystem instead.
metadata(description="PlaceCode shop door unit", version="1.0.0")

include("$(PORT_DIR)/boards/manifest.py")

# micropython-lib; the version the tests run is pinned in requirements.txt (1.3.4)
require("umqtt.simple")

package(
    "firmware",
    files=(
        "__init__.py",
        "manual_id.py",
        "protocol.py",
        "verdict.py",
        "shop/__init__.py",
        "shop/app.py",
        "shop/board.py",
        "shop/indicator.py",
        "shop/link.py",
        "shop/outbox.py",
        "shop/scanner.py",
        "shop/unit.py",
    ),
    base_path="../..",
)
