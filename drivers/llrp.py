"""LLRP fixed readers (Impinj, Zebra and any LLRP 1.0.1 reader), on sllurp.

sllurp runs one thread per connection and calls back on it. This driver adds a supervisor thread per
reader that connects, waits for inventory to start, watches the connection, and connects again with
capped exponential backoff and jitter when anything goes wrong (sllurp's own reconnect gives up).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from drivers.base import ReaderDriver, ReadSink, StatusSink
from gateway.config import LLRPReaderSettings
from gateway.model import TagRead

log = logging.getLogger(__name__)

# Fields asked of the reader in every TagReportData.
_TAG_CONTENT = {
    "EnableROSpecID": False,
    "EnableSpecIndex": False,
    "EnableInventoryParameterSpecID": False,
    "EnableAntennaID": True,
    "EnableChannelIndex": False,
    "EnablePeakRSSI": True,
    "EnableFirstSeenTimestamp": True,
    "EnableLastSeenTimestamp": True,
    "EnableTagSeenCount": True,
    "EnableAccessSpecID": False,
}

_START_TIMEOUT_S = 15.0  # connected but not inventorying after this long: drop and try again


def _setter(event: threading.Event) -> Callable[..., None]:
    """A callback for sllurp that sets ``event`` whatever it is called with."""
    return lambda *_: event.set()


class LLRPDriver(ReaderDriver):
    """One LLRP reader. Thread-safe ``start``/``stop``; reads are handed over from sllurp's thread."""

    settings: LLRPReaderSettings

    def __init__(self, settings: LLRPReaderSettings, on_reads: ReadSink, on_status: StatusSink) -> None:
        super().__init__(settings, on_reads, on_status)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: Any = None
        self.reads = 0

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._supervise, name=f"llrp-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        thread.join(timeout=10)
        if thread.is_alive():
            log.error("reader=%s event=stop_timeout detail=supervisor thread did not end", self.name)

    # supervisor thread
    def _supervise(self) -> None:
        from sllurp.llrp import LLRPReaderClient, LLRPReaderConfig, LLRPReaderState

        attempt = 0
        while not self._stop.is_set():
            attempt += 1
            self._on_status(self.name, "connecting", f"attempt {attempt}")
            config = LLRPReaderConfig(
                {
                    "antennas": list(self.settings.antennas),
                    "report_every_n_tags": self.settings.report_every_n_tags,
                    "report_timeout_ms": max(1, int(self.settings.report_timeout * 1000)),
                    "tag_content_selector": dict(_TAG_CONTENT),
                    "start_inventory": True,
                    "reset_on_connect": True,
                    "reconnect": False,
                }
            )
            client = LLRPReaderClient(self.settings.host, self.settings.port, config)
            ended = threading.Event()
            inventorying = threading.Event()
            client.add_tag_report_callback(self._on_tag_report)
            client.add_disconnected_callback(_setter(ended))
            client.add_state_callback(LLRPReaderState.STATE_INVENTORYING, _setter(inventorying))
            detail = ""
            try:
                client.connect()
            except OSError as exc:
                detail = f"cannot connect to {self.settings.host}:{self.settings.port}: {exc}"
            else:
                self._client = client
                detail = self._watch(client, ended, inventorying)
                self._close(client)
                self._client = None
            if self._stop.is_set():
                break
            if inventorying.is_set():
                attempt = 1  # it worked for a while: start the backoff over
            delay = random.uniform(0, min(self.settings.reconnect_delay_max, 0.5 * 2**attempt))
            self._on_status(self.name, "disconnected", detail)
            log.warning(
                "reader=%s event=reconnect attempt=%d delay_s=%.1f reason=%s",
                self.name,
                attempt,
                delay,
                detail,
            )
            self._stop.wait(delay)
        self._on_status(self.name, "disconnected", "stopped")

    def _watch(self, client: Any, ended: threading.Event, inventorying: threading.Event) -> str:
        deadline = time.monotonic() + _START_TIMEOUT_S
        announced = False
        while not self._stop.is_set():
            if ended.is_set() or not client.is_alive():
                return "connection closed"
            if inventorying.is_set():
                if not announced:
                    announced = True
                    self._on_status(self.name, "connected", "inventorying")
            elif time.monotonic() > deadline:
                return f"reader did not start inventory within {_START_TIMEOUT_S:.0f}s"
            self._stop.wait(0.1)
        return "stopped"

    def _close(self, client: Any) -> None:
        try:
            if client.is_alive():
                client.disconnect(timeout=3)
        except Exception:  # sllurp raises assorted errors on a half-dead socket
            log.debug("reader=%s event=disconnect_error", self.name, exc_info=True)
        finally:
            client.hard_disconnect()
            client.join(3)

    # sllurp's thread
    def _on_tag_report(self, _client: Any, tags: list[dict[str, Any]]) -> None:
        now = time.time()
        name = self.name
        reads = []
        for tag in tags:
            epc = tag.get("EPC") or tag.get("EPC-96")
            if not epc:
                continue
            reader_us = tag.get("LastSeenTimestampUTC") or tag.get("FirstSeenTimestampUTC")
            rssi = tag.get("PeakRSSI")
            reads.append(
                TagRead(
                    reader=name,
                    antenna=int(tag.get("AntennaID", 0)),
                    epc=(epc.decode("ascii") if isinstance(epc, bytes) else str(epc)).upper(),
                    rssi=float(rssi) if rssi is not None else None,
                    time=now,
                    reader_time=reader_us / 1e6 if reader_us else None,
                    seen_count=int(tag.get("TagSeenCount", 1)),
                )
            )
        if reads:
            self.reads += len(reads)
            self._on_reads(reads)
