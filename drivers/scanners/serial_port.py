"""Barcode scanners on a serial port: RS-232, USB CDC (/dev/ttyACM0), a pty, ``socket://`` or ``loop://``.

Opened with ``serial.serial_for_url`` so tests run on ptys and ``loop://`` without cables. An unplugged
USB CDC scanner or a closed pty shows up as an error from ``read`` (EIO, or pyserial's "returned no
data"): the port is closed and reopened with backoff by ``ScannerDriver``.
"""

from __future__ import annotations

import contextlib
from typing import Any

import serial

from drivers.scanners.base import DeviceGone, ScannerDriver
from drivers.scanners.framing import ScanFramer, terminator_bytes
from drivers.scanners.settings import SerialScannerSettings

_READ_TIMEOUT_S = 0.2


def _escapes(text: str) -> bytes:
    return text.encode("latin-1").decode("unicode_escape").encode("latin-1") if text else b""


class SerialScannerDriver(ScannerDriver):
    settings: SerialScannerSettings

    def _framer(self) -> ScanFramer:
        s = self.settings
        return ScanFramer(
            terminator_bytes(s.terminator),
            max_length=s.max_length,
            prefix=_escapes(s.prefix),
            suffix=_escapes(s.suffix),
        )

    def _open(self) -> Any:
        s = self.settings
        try:
            port = serial.serial_for_url(
                s.port,
                baudrate=s.baudrate,
                bytesize=s.bytesize,
                parity=s.parity,
                stopbits=s.stopbits,
                timeout=_READ_TIMEOUT_S,
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            raise DeviceGone(f"cannot open {s.port}: {exc}") from exc
        return port

    def _read(self, device: Any) -> bytes:
        try:
            waiting = device.in_waiting
            data: bytes = device.read(waiting or 1)
        except (serial.SerialException, OSError) as exc:
            raise DeviceGone(f"{self.settings.port} vanished: {exc}") from exc
        return data

    def _close(self, device: Any) -> None:
        with contextlib.suppress(Exception):  # a vanished device may fail to close; it is gone either way
            device.close()
