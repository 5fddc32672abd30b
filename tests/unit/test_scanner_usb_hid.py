"""The USB HID scanner driver against a simulated scanner (a pyusb backend with a real HID keyboard's
descriptors and boot keyboard reports), including unplug and replug; and the report decoder."""

from __future__ import annotations

from typing import Any

import pytest

from drivers import create_driver
from drivers.scanners.hid_keyboard import HidKeyboardDecoder
from drivers.scanners.settings import UsbHidScannerSettings
from drivers.scanners.usb_hid import UsbHidScannerDriver
from simulators.scanner.keymap import reports_for
from simulators.scanner.usb_backend import SimulatedBackend, SimulatedHidScanner
from tests.conftest import wait_until
from tests.e2e.test_scanner_serial import Sink


def hid_driver(sink: Sink, backend: SimulatedBackend, **extra: Any) -> UsbHidScannerDriver:
    settings = UsbHidScannerSettings.model_validate(
        {"name": "handheld-1", "type": "usb-hid", "vendor_id": "0x0c2e", "product_id": 0x0B61}
        | {"reconnect_delay_max": 0.3, **extra}
    )
    driver = create_driver(settings, sink.reads, sink.status)
    assert isinstance(driver, UsbHidScannerDriver)
    driver.backend = backend
    return driver


def test_decoder_on_hand_written_boot_reports() -> None:
    decoder = HidKeyboardDecoder()
    reports = [
        bytes([0x02, 0, 0x04, 0, 0, 0, 0, 0]),  # Shift+a
        bytes(8),
        bytes([0x00, 0, 0x04, 0, 0, 0, 0, 0]),  # a
        bytes([0x00, 0, 0x04, 0x1E, 0, 0, 0, 0]),  # a still down, 1 pressed
        bytes(8),
        bytes([0x20, 0, 0x1F, 0, 0, 0, 0, 0]),  # Right Shift+2 = @
        bytes([0x01, 0, 0x30, 0, 0, 0, 0, 0]),  # Ctrl+] = GS
        bytes([0x00, 0, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01]),  # rollover: ignored
        bytes([0x00, 0, 0x62, 0, 0, 0, 0, 0]),  # keypad 0
        bytes([0x00, 0, 0x58, 0, 0, 0, 0, 0]),  # keypad Enter
    ]
    assert b"".join(decoder.feed(r) for r in reports) == b"Aa1@\x1d0\r"


def test_round_trip_of_every_printable_ascii_character() -> None:
    """The simulator's key table (written from the HID Usage Tables) typed, the driver's decoder read back:
    two independent tables, so a wrong code in either one fails here."""
    text = "".join(chr(c) for c in range(0x20, 0x7F)) + "\t\x1d"
    decoder = HidKeyboardDecoder()
    for char in text:
        assert b"".join(decoder.feed(r) for r in reports_for(char)) == char.encode(), repr(char)
    assert b"".join(decoder.feed(r) for r in reports_for(text + "\r")) == (text + "\r").encode()


@pytest.mark.parametrize(
    ("report", "typed"),
    [
        ((0x00, 0x04), b"a"),
        ((0x02, 0x04), b"A"),
        ((0x02, 0x1E), b"!"),
        ((0x00, 0x27), b"0"),
        ((0x00, 0x28), b"\r"),
        ((0x00, 0x2C), b" "),
        ((0x02, 0x38), b"?"),
        ((0x01, 0x30), b"\x1d"),
    ],
)
def test_decoder_against_the_usage_tables(report: tuple[int, int], typed: bytes) -> None:
    """A few codes from the HID Usage Tables (page 0x07, US layout), decoded by the driver."""
    modifiers, key = report
    assert HidKeyboardDecoder().feed(bytes([modifiers, 0, key, 0, 0, 0, 0, 0])) == typed


def test_usb_hid_scans_unplug_replug_and_kernel_driver_handling() -> None:
    scanner = SimulatedHidScanner(serial="SN-2")
    other = SimulatedHidScanner(serial="SN-1")
    sink = Sink()
    driver = hid_driver(sink, SimulatedBackend(other, scanner), serial="SN-2")
    driver.start()
    try:
        wait_until(lambda: sink.state_names() == ["connecting", "connected"], 10, "connected")
        assert scanner.kernel_driver_active is False and scanner.detaches == 1
        assert other.detaches == 0  # the serial number picked the right one
        scanner.scan("]C100106141412345678908")
        scanner.scan("]d20180614141123458\x1d216789")
        other.scan("NOT-MINE")
        wait_until(lambda: len(sink.texts()) == 2, 10, "two scans")
        assert sink.texts() == ["]C100106141412345678908", "]d20180614141123458\x1d216789"]

        scanner.unplug()
        wait_until(lambda: sink.state_names()[-1:] == ["disconnected"], 10, "disconnected")
        assert "unplugged" in sink.states[-1][1] and "No such device" in sink.states[-1][1]
        scanner.plug()
        wait_until(lambda: sink.state_names()[-1:] == ["connected"], 10, "connected again")
        assert scanner.detaches == 2
        scanner.scan("AFTER-REPLUG")
        wait_until(lambda: sink.texts()[-1:] == ["AFTER-REPLUG"], 10, "scan after replug")
    finally:
        driver.stop()
    assert scanner.kernel_driver_active is True and scanner.attaches == 1  # given back on stop
    assert sink.state_names() == ["connecting", "connected", "disconnected", "connected", "disconnected"]


def test_absent_device_is_reported_and_found_when_plugged() -> None:
    scanner = SimulatedHidScanner()
    scanner.unplug()
    sink = Sink()
    driver = hid_driver(sink, SimulatedBackend(scanner))
    driver.start()
    try:
        wait_until(lambda: sink.state_names()[-1:] == ["disconnected"], 10, "disconnected")
        assert "no USB 0c2e:0b61 plugged in" in sink.states[-1][1]
        scanner.plug()
        wait_until(lambda: sink.state_names()[-1:] == ["connected"], 10, "connected")
        scanner.scan("X1")
        wait_until(lambda: sink.texts() == ["X1"], 10, "scan")
    finally:
        driver.stop()
