"""Reader drivers. Adding a reader type is one module plus one line in ``DRIVERS``."""

from __future__ import annotations

import importlib
from typing import Any

from drivers.base import ReaderDriver, ReadSink, StatusSink
from gateway.domain.errors import DriverError

# reader type -> "module:class"; imported only when a configured reader needs it, so a missing
# hardware library only matters to the readers that use it.
DRIVERS: dict[str, str] = {
    "llrp": "drivers.llrp:LLRPDriver",
    "serial": "drivers.scanners.serial_port:SerialScannerDriver",
    "usb-hid": "drivers.scanners.usb_hid:UsbHidScannerDriver",
}


def create_driver(settings: Any, on_reads: ReadSink, on_status: StatusSink) -> ReaderDriver:
    """The driver for one configured reader."""
    target = DRIVERS.get(settings.type)
    if target is None:
        raise DriverError(f"reader {settings.name!r}: no driver for type {settings.type!r} (known: {sorted(DRIVERS)})")
    module_name, class_name = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise DriverError(
            f"reader {settings.name!r}: the {settings.type} driver needs the Python package "
            f"{exc.name!r}; install it with: pip install {exc.name}"
        ) from exc
    driver: ReaderDriver = getattr(module, class_name)(settings, on_reads, on_status)
    return driver


__all__ = ["DRIVERS", "ReadSink", "ReaderDriver", "StatusSink", "create_driver"]
