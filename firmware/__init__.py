"""PlaceCode firmware: the wire protocol shared by every side, the board, and the Pi kiosk."""
