"""Barcode scanner drivers: serial (RS-232, USB CDC, ptys, ``socket://``) and USB HID keyboard-wedge."""
