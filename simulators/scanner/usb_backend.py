"""A simulated USB HID barcode scanner as a pyusb backend (``usb.backend.IBackend``).

It presents the descriptors of a real HID boot keyboard (one configuration, interface 0 class 3 /
subclass 1 boot / protocol 1 keyboard with its HID class descriptor, one interrupt IN endpoint 0x81 of 8
bytes), string descriptors (manufacturer, product, serial), a kernel driver that is bound until detached,
and 8-byte boot keyboard reports typed from scans with the simulator's own key table (``keymap.py``).
``unplug()`` makes the device vanish the way libusb reports it: reads on an open handle fail with
``USBError`` errno ENODEV (LIBUSB_ERROR_NO_DEVICE) and ``usb.core.find`` no longer lists it; ``plug()``
brings it back at a new address. The driver under test goes through ``usb.core`` and ``usb.util``
unchanged: only the backend is simulated.
"""

from __future__ import annotations

import errno
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import usb.backend
import usb.core

from simulators.scanner.keymap import reports_for

_LIBUSB_ERROR_NO_DEVICE = -4
_LIBUSB_ERROR_TIMEOUT = -7
_LIBUSB_ERROR_NOT_FOUND = -5
# HID class descriptor: bcdHID 1.11, country 0, one report descriptor of 63 bytes (the boot keyboard's)
_HID_DESCRIPTOR = bytes([0x09, 0x21, 0x11, 0x01, 0x00, 0x01, 0x22, 0x3F, 0x00])


class _Desc:
    """A descriptor: attributes named as in the USB specification, as pyusb reads them."""

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)


@dataclass
class _Handle:
    device: SimulatedHidScanner
    generation: int
    claimed: set[int] = field(default_factory=set)


class SimulatedHidScanner:
    """One scanner: a device for the backend to enumerate, with scans waiting to be typed."""

    def __init__(self, vendor_id: int = 0x0C2E, product_id: int = 0x0B61, serial: str = "SIM0001") -> None:
        self.vendor_id = vendor_id
        self.product_id = product_id
        self.serial = serial
        self.strings = {1: "Honeywell Imaging & Mobility", 2: "Simulated HID scanner", 3: serial}
        self.plugged = True
        self.generation = 1  # a replug is a new device: old handles stay dead
        self.address = 5
        self.kernel_driver_active = True
        self.detaches = 0
        self.attaches = 0
        self._reports: deque[bytes] = deque()
        self._cond = threading.Condition()

    def scan(self, text: str, end: str = "\r") -> None:
        """Type ``text`` and Enter, as the scanner does after a decode."""
        with self._cond:
            self._reports.extend(reports_for(text + end))
            self._cond.notify_all()

    def send_report(self, report: bytes) -> None:
        with self._cond:
            self._reports.append(report)
            self._cond.notify_all()

    def unplug(self) -> None:
        with self._cond:
            self.plugged = False
            self._reports.clear()
            self._cond.notify_all()

    def plug(self) -> None:
        with self._cond:
            self.plugged = True
            self.generation += 1
            self.address += 1
            self.kernel_driver_active = True  # a new device gets the kernel's HID driver again
            self._cond.notify_all()

    def read_report(self, generation: int, timeout_ms: int) -> bytes:
        with self._cond:
            self._check(generation)
            if not self._reports:
                self._cond.wait(timeout_ms / 1000 if timeout_ms else None)
                self._check(generation)
            if not self._reports:
                raise usb.core.USBTimeoutError("Operation timed out", _LIBUSB_ERROR_TIMEOUT, errno.ETIMEDOUT)
            return self._reports.popleft()

    def _check(self, generation: int) -> None:
        if not self.plugged or generation != self.generation:
            raise usb.core.USBError(
                "No such device (it may have been disconnected)", _LIBUSB_ERROR_NO_DEVICE, errno.ENODEV
            )

    # descriptors of a full-speed HID boot keyboard
    def device_descriptor(self) -> _Desc:
        return _Desc(
            bLength=18, bDescriptorType=1, bcdUSB=0x0200, bDeviceClass=0, bDeviceSubClass=0, bDeviceProtocol=0,
            bMaxPacketSize0=8, idVendor=self.vendor_id, idProduct=self.product_id, bcdDevice=0x0100,
            iManufacturer=1, iProduct=2, iSerialNumber=3, bNumConfigurations=1,
            address=self.address, bus=1, port_number=2, port_numbers=(2,), speed=2,
        )  # fmt: skip


_CONFIG = _Desc(
    bLength=9, bDescriptorType=2, wTotalLength=34, bNumInterfaces=1, bConfigurationValue=1, iConfiguration=0,
    bmAttributes=0xA0, bMaxPower=50, extra_descriptors=[],
)  # fmt: skip
_INTERFACE = _Desc(
    bLength=9, bDescriptorType=4, bInterfaceNumber=0, bAlternateSetting=0, bNumEndpoints=1, bInterfaceClass=3,
    bInterfaceSubClass=1, bInterfaceProtocol=1, iInterface=0, extra_descriptors=list(_HID_DESCRIPTOR),
)  # fmt: skip
_ENDPOINT = _Desc(
    bLength=7, bDescriptorType=5, bEndpointAddress=0x81, bmAttributes=0x03, wMaxPacketSize=8, bInterval=10,
    bRefresh=0, bSynchAddress=0, extra_descriptors=[],
)  # fmt: skip


class SimulatedBackend(usb.backend.IBackend):  # type: ignore[misc]
    """Pass as ``backend=`` to ``usb.core.find`` (the driver takes it as ``UsbHidScannerDriver.backend``)."""

    def __init__(self, *devices: SimulatedHidScanner) -> None:
        self.devices = list(devices)
        self.configuration = 0

    def enumerate_devices(self) -> list[SimulatedHidScanner]:
        return [d for d in self.devices if d.plugged]

    def get_device_descriptor(self, dev: SimulatedHidScanner) -> _Desc:
        return dev.device_descriptor()

    def get_configuration_descriptor(self, dev: SimulatedHidScanner, config: int) -> _Desc:
        if config != 0:
            raise IndexError(f"Invalid configuration index {config}")
        return _CONFIG

    def get_interface_descriptor(self, dev: SimulatedHidScanner, intf: int, alt: int, config: int) -> _Desc:
        if intf != 0 or alt != 0:
            raise IndexError(f"Invalid interface index {intf}")
        return _INTERFACE

    def get_endpoint_descriptor(self, dev: SimulatedHidScanner, ep: int, intf: int, alt: int, config: int) -> _Desc:
        if ep != 0:
            raise IndexError(f"Invalid endpoint index {ep}")
        return _ENDPOINT

    def open_device(self, dev: SimulatedHidScanner) -> _Handle:
        dev._check(dev.generation)
        return _Handle(dev, dev.generation)

    def close_device(self, dev_handle: _Handle) -> None:
        dev_handle.claimed.clear()

    def set_configuration(self, dev_handle: _Handle, config_value: int) -> None:
        dev_handle.device._check(dev_handle.generation)
        self.configuration = config_value

    def get_configuration(self, dev_handle: _Handle) -> int:
        dev_handle.device._check(dev_handle.generation)
        return self.configuration or 1

    def set_interface_altsetting(self, dev_handle: _Handle, intf: int, altsetting: int) -> None:
        dev_handle.device._check(dev_handle.generation)

    def claim_interface(self, dev_handle: _Handle, intf: int) -> None:
        device = dev_handle.device
        device._check(dev_handle.generation)
        if device.kernel_driver_active:  # libusb: the kernel's usbhid holds it
            raise usb.core.USBError("Resource busy", -6, errno.EBUSY)
        dev_handle.claimed.add(intf)

    def release_interface(self, dev_handle: _Handle, intf: int) -> None:
        dev_handle.claimed.discard(intf)

    def intr_read(self, dev_handle: _Handle, ep: int, intf: int, buff: Any, timeout: int) -> int:
        report = dev_handle.device.read_report(dev_handle.generation, timeout)
        n = min(len(report), len(buff))
        buff[:n] = type(buff)(buff.typecode, report[:n])
        return n

    def ctrl_transfer(
        self, dev_handle: _Handle, bmRequestType: int, bRequest: int, wValue: int, wIndex: int, data: Any, timeout: int
    ) -> int:
        device = dev_handle.device
        device._check(dev_handle.generation)
        if bRequest == 0x06 and wValue >> 8 == 0x03:  # GET_DESCRIPTOR, string
            index = wValue & 0xFF
            if index == 0:
                payload = bytes([4, 3, 0x09, 0x04])  # LANGID en-US
            else:
                text = device.strings.get(index)
                if text is None:
                    raise usb.core.USBError("Pipe error", -9, errno.EPIPE)
                encoded = text.encode("utf-16-le")
                payload = bytes([2 + len(encoded), 3]) + encoded
            n = min(len(payload), len(data))
            data[:n] = type(data)(data.typecode, payload[:n])
            return n
        return 0

    def is_kernel_driver_active(self, dev_handle: _Handle, intf: int) -> bool:
        dev_handle.device._check(dev_handle.generation)
        return dev_handle.device.kernel_driver_active

    def detach_kernel_driver(self, dev_handle: _Handle, intf: int) -> None:
        device = dev_handle.device
        device._check(dev_handle.generation)
        if not device.kernel_driver_active:
            raise usb.core.USBError("Entity not found", _LIBUSB_ERROR_NOT_FOUND, errno.ENOENT)
        device.kernel_driver_active = False
        device.detaches += 1

    def attach_kernel_driver(self, dev_handle: _Handle, intf: int) -> None:
        device = dev_handle.device
        device._check(dev_handle.generation)
        device.kernel_driver_active = True
        device.attaches += 1
