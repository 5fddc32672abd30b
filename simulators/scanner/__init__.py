"""Simulated barcode scanners: a serial scanner on a pty (``pty.py``) and a USB HID scanner as a pyusb
backend (``usb_backend.py``)."""
