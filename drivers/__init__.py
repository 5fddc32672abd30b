"""Reader drivers: ``drivers.registry`` says which reader types exist; ``drivers.base`` is what each implements.

This package may import only ``gateway.domain`` of the gateway (and third-party libraries)."""

from __future__ import annotations

from drivers.base import ReaderDriver, ReadSink, StatusSink
from drivers.registry import READER_TYPES, AnyReaderSettings, ReaderType, create_driver

__all__ = ["READER_TYPES", "AnyReaderSettings", "ReadSink", "ReaderDriver", "ReaderType", "StatusSink", "create_driver"]
