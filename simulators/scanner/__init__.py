"""Simulated barcode scanners: a serial scanner on a pty (``pty.py``) and a USB HID scanner as a pyusb
backend (``usb_backend.py``) that types with its own US key table (``keymap.py``). Nothing here imports
the drivers: the simulators are independent twins of the devices the drivers talk to."""
