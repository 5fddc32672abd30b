"""Barcode scanners that type like a USB keyboard (HID keyboard wedge), on pyusb.

Finds the device by vendor and product id (and serial number when given), detaches the kernel's HID
driver so the scans do not also land on the console, claims the interface and reads 8-byte boot
keyboard reports from its interrupt IN endpoint; on stop (or when the device goes) it releases the
interface and re-attaches the kernel driver. A vanished device (libusb's NO_DEVICE, errno ENODEV, or
any other USBError on read) is reopened with backoff by ``ScannerDriver``.

``backend`` may be set before ``start()`` to a pyusb backend: the tests use the simulated scanner in
``simulators/scanner/usb_backend.py``; None means pyusb's default (libusb 1.0).
"""

from __future__ import annotations

import contextlib
import errno
from dataclasses import dataclass
from typing import Any

import usb.core
import usb.util

from drivers.scanners.base import DeviceGone, ScannerDriver
from drivers.scanners.hid_keyboard import HidKeyboardDecoder
from drivers.scanners.settings import UsbHidScannerSettings

_READ_TIMEOUT_MS = 200


@dataclass
class _Open:
    device: Any
    interface: int
    endpoint: Any
    detached: bool
    decoder: HidKeyboardDecoder


class UsbHidScannerDriver(ScannerDriver):
    settings: UsbHidScannerSettings
    backend: Any = None

    def _describe(self) -> str:
        s = self.settings
        serial = f" serial {s.serial}" if s.serial else ""
        return f"USB {s.vendor_id:04x}:{s.product_id:04x}{serial}"

    def _open(self) -> Any:
        s = self.settings
        try:
            found = list(
                usb.core.find(find_all=True, idVendor=s.vendor_id, idProduct=s.product_id, backend=self.backend)
            )
        except (usb.core.NoBackendError, usb.core.USBError) as exc:
            raise DeviceGone(f"cannot list USB devices: {exc}") from exc
        if s.serial is not None:
            found = [d for d in found if self._serial_of(d) == s.serial]
        if not found:
            raise DeviceGone(f"no {self._describe()} plugged in")
        device = found[0]
        try:
            configuration = device.get_active_configuration()
            interface = usb.util.find_descriptor(configuration, bInterfaceClass=3) or configuration[(0, 0)]
            number = interface.bInterfaceNumber
            detached = False
            if device.is_kernel_driver_active(number):
                device.detach_kernel_driver(number)
                detached = True
            usb.util.claim_interface(device, number)
            endpoint = usb.util.find_descriptor(
                interface,
                custom_match=lambda e: (
                    usb.util.endpoint_direction(e.bEndpointAddress) == usb.util.ENDPOINT_IN
                    and usb.util.endpoint_type(e.bmAttributes) == usb.util.ENDPOINT_TYPE_INTR
                ),
            )
            if endpoint is None:
                raise DeviceGone(f"{self._describe()} has no interrupt IN endpoint: not a HID keyboard")
        except usb.core.USBError as exc:
            usb.util.dispose_resources(device)
            raise DeviceGone(f"cannot open {self._describe()}: {exc}") from exc
        return _Open(device, number, endpoint, detached, HidKeyboardDecoder())

    @staticmethod
    def _serial_of(device: Any) -> str | None:
        try:
            value: str | None = usb.util.get_string(device, device.iSerialNumber)
        except (usb.core.USBError, ValueError):
            return None
        return value

    def _read(self, device: Any) -> bytes:
        opened: _Open = device
        try:
            report = opened.endpoint.read(8, timeout=_READ_TIMEOUT_MS)
        except usb.core.USBTimeoutError:
            return b""
        except usb.core.USBError as exc:
            gone = "unplugged" if exc.errno == errno.ENODEV else "read failed"
            raise DeviceGone(f"{self._describe()} {gone}: {exc}") from exc
        return opened.decoder.feed(bytes(report))

    def _close(self, device: Any) -> None:
        opened: _Open = device
        with contextlib.suppress(usb.core.USBError):
            usb.util.release_interface(opened.device, opened.interface)
        if opened.detached:
            # give the keyboard back to the kernel; on a vanished device there is nothing to give back
            with contextlib.suppress(usb.core.USBError):
                opened.device.attach_kernel_driver(opened.interface)
        usb.util.dispose_resources(opened.device)
