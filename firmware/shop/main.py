"""Boot entry of the shop unit (copied to the device as /main.py by `just shop-deploy`).

Reads /shop.json (unit identity, broker, Wi-Fi), joins the Wi-Fi, starts the watchdog
and runs the loop. Without Wi-Fi the loop still runs: every visitor gets the manual-check
signal and every scan waits in the flash outbox until the broker is reachable.
"""

from firmware.shop import app
from firmware.shop.board import Board

CONFIG = "/shop.json"


def main():
    with open(CONFIG) as f:
        cfg = app.load_config(f.read())
    board = Board()
    wifi = cfg["wifi"] or {}
    if wifi.get("ssid"):
        board.wifi(wifi["ssid"], wifi.get("password", ""), wifi.get("country", "CN"))
    board.start_watchdog()
    app.App(board, cfg).run()


main()
