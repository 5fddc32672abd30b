"""What a barcode scanner's entry in ``readers`` may say. No pyserial or pyusb here: the config loads this
eagerly."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import BeforeValidator, Field

from gateway.domain.settings import Duration, ReaderSettingsBase


def _usb_id(value: object) -> object:
    if isinstance(value, str):
        try:
            value = int(value, 16 if value.lower().startswith("0x") else 10)
        except ValueError:
            raise ValueError(f"expected a USB id 0x0000-0xffff, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFFFF:
        raise ValueError(f"expected a USB id 0x0000-0xffff, got {value!r}")
    return value


def _terminator(value: object) -> object:
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected CR, LF, CRLF or a non-empty string such as '\\x03', got {value!r}")
    try:
        value.encode("latin-1").decode("unicode_escape")
    except (UnicodeError, ValueError):
        raise ValueError(f"{value!r}: not a valid byte string (escapes: \\r, \\n, \\xNN)") from None
    return value


def _stopbits(value: object) -> object:
    if isinstance(value, bool) or value not in (1, 1.5, 2):
        raise ValueError(f"expected 1, 1.5 or 2, got {value!r}")
    return value


UsbId = Annotated[int, BeforeValidator(_usb_id)]
Terminator = Annotated[str, BeforeValidator(_terminator)]


class ScannerSettings(ReaderSettingsBase):
    """What every barcode scanner has. A scanner read point names the scanner and no antennas."""

    kind: ClassVar[Literal["rfid", "scanner"]] = "scanner"

    max_length: int = Field(1024, ge=1, le=65536, description="Longer scans are dropped (counted) as noise.")
    dedupe_window: Duration = Field(
        1.0, ge=0, description="The same data from the same scanner again within this long is counted, not sent."
    )
    reconnect_delay_max: Duration = Field(10.0, gt=0, description="Longest wait between two attempts to reopen.")

    @property
    def antennas(self) -> list[int]:
        return []


class SerialScannerSettings(ScannerSettings):
    type: Literal["serial"] = Field(description="Reader driver: serial (RS-232, USB CDC, pty, socket://, loop://).")
    port: str = Field(min_length=1, description="Device path (/dev/serial/by-id/...) or pyserial URL (socket://h:p).")
    baudrate: int = Field(9600, ge=50, le=4_000_000, description="Bits per second.")
    bytesize: Literal[5, 6, 7, 8] = Field(8, description="Data bits.")
    parity: Literal["N", "E", "O", "M", "S"] = Field("N", description="Parity: N, E, O, M or S.")
    stopbits: Annotated[float, BeforeValidator(_stopbits)] = Field(1, description="Stop bits: 1, 1.5 or 2.")
    terminator: Terminator = Field("CR", description="End of a scan: CR, LF, CRLF or any string ('\\x03').")
    prefix: str = Field("", description="Stripped from the start of a scan when present (escapes allowed).")
    suffix: str = Field("", description="Stripped from the end of a scan when present (escapes allowed).")

    def describe(self) -> str:
        return f"{self.name} (serial {self.port}, {self.baudrate} baud)"


class UsbHidScannerSettings(ScannerSettings):
    type: Literal["usb-hid"] = Field(description="Reader driver: usb-hid (a scanner that types like a keyboard).")
    vendor_id: UsbId = Field(description="USB vendor id, e.g. 0x0c2e.")
    product_id: UsbId = Field(description="USB product id, e.g. 0x0b61.")
    serial: str | None = Field(None, min_length=1, description="USB serial number, when several are plugged in.")
    layout: Literal["us"] = Field("us", description="Keyboard layout the scanner types in.")

    def describe(self) -> str:
        return f"{self.name} (usb-hid {self.vendor_id:04x}:{self.product_id:04x})"
