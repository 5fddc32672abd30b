"""The reader types dockgate knows: each one's settings model and its driver.

Adding a reader type is one driver module (with its settings model) plus one line in ``READER_TYPES``; the
config's ``readers`` union is built from this table. A driver, and so its hardware library, is imported only
when a configured reader needs it: a missing library matters only to the readers that use it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union, get_args

from drivers.base import ReaderDriver, ReadSink, StatusSink
from drivers.impinj_iot.settings import ImpinjIotReaderSettings
from drivers.llrp.settings import LLRPReaderSettings
from drivers.scanners.settings import SerialScannerSettings, UsbHidScannerSettings
from gateway.domain.errors import DriverError
from gateway.domain.settings import ReaderSettingsBase


@dataclass(frozen=True)
class ReaderType:
    """``settings``: its model (a ``type`` literal names the reader type); ``driver``: "module:Class";
    ``packages``: the hardware libraries it imports -> the package that installs each."""

    settings: type[ReaderSettingsBase]
    driver: str
    packages: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        (literal,) = get_args(self.settings.model_fields["type"].annotation)
        return str(literal)


def _table(*types: ReaderType) -> dict[str, ReaderType]:
    return {t.name: t for t in types}


READER_TYPES: dict[str, ReaderType] = _table(
    ReaderType(LLRPReaderSettings, "drivers.llrp.driver:LLRPDriver", {"sllurp": "sllurp"}),
    ReaderType(SerialScannerSettings, "drivers.scanners.serial_port:SerialScannerDriver", {"serial": "pyserial"}),
    ReaderType(UsbHidScannerSettings, "drivers.scanners.usb_hid:UsbHidScannerDriver", {"usb": "pyusb"}),
    ReaderType(ImpinjIotReaderSettings, "drivers.impinj_iot.driver:ImpinjIotDriver"),
)

if TYPE_CHECKING:  # what mypy sees; at run time the union is built from the table
    AnyReaderSettings = LLRPReaderSettings | SerialScannerSettings | UsbHidScannerSettings | ImpinjIotReaderSettings
else:
    AnyReaderSettings = Union[tuple(t.settings for t in READER_TYPES.values())]  # noqa: UP007


def create_driver(settings: ReaderSettingsBase, on_reads: ReadSink, on_status: StatusSink) -> ReaderDriver:
    """The driver for one configured reader; DriverError when its type or its hardware library is missing."""
    kind = str(getattr(settings, "type", ""))
    entry = READER_TYPES.get(kind)
    if entry is None:
        raise DriverError(f"reader {settings.name!r}: no driver for type {kind!r} (known: {sorted(READER_TYPES)})")
    module_name, class_name = entry.driver.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        missing = (exc.name or "?").partition(".")[0]
        package = entry.packages.get(missing, missing)
        raise DriverError(
            f"reader {settings.name!r}: the {kind} driver needs the Python package {package!r} "
            f"(cannot import {exc.name!r}); install it with: pip install {package}"
        ) from exc
    driver: ReaderDriver = getattr(module, class_name)(settings, on_reads, on_status)
    return driver
