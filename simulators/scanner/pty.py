"""A serial barcode scanner on a pseudo-terminal, with unplug and replug.

The gateway opens the slave side like any serial device; the simulator writes scans to the master
side. A pty's path changes each time one is created, so the simulator keeps a stable symlink (``link``)
pointing at the current slave: "unplug" closes the pty (the gateway's reads fail as with a vanished USB
CDC device) and removes the link; "replug" creates a new pty and points the link at it.
"""

from __future__ import annotations

import contextlib
import os
import tty
from pathlib import Path
from types import TracebackType


class PtyScanner:
    """Not thread-safe; one owner writes scans and plugs."""

    def __init__(self, link: str | Path | None = None, terminator: bytes = b"\r") -> None:
        self.link = Path(link) if link is not None else None
        self.terminator = terminator
        self._master: int | None = None
        self._slave: int | None = None
        self.device = ""

    @property
    def path(self) -> str:
        """What a gateway should open: the link when there is one, else the current pty."""
        return str(self.link) if self.link is not None else self.device

    @property
    def plugged(self) -> bool:
        return self._master is not None

    def plug(self) -> None:
        if self._master is not None:
            return
        master, slave = os.openpty()
        tty.setraw(slave)  # no CR -> LF translation, no echo: bytes arrive as the scanner sent them
        self._master, self._slave = master, slave
        self.device = os.ttyname(slave)
        if self.link is not None:
            tmp = self.link.with_name(self.link.name + ".new")
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            tmp.symlink_to(self.device)
            os.replace(tmp, self.link)  # atomic: a reader never sees a missing link while replugging

    def unplug(self) -> None:
        if self.link is not None:
            with contextlib.suppress(FileNotFoundError):
                self.link.unlink()
        for fd in (self._slave, self._master):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = None

    def replug(self) -> None:
        self.unplug()
        self.plug()

    def write_raw(self, data: bytes) -> None:
        if self._master is None:
            raise OSError("the simulated scanner is unplugged")
        view = memoryview(data)
        while view:
            written = os.write(self._master, view)
            view = view[written:]

    def scan(self, text: str) -> None:
        """One scan: the text in UTF-8 and the terminator."""
        self.write_raw(text.encode("utf-8") + self.terminator)

    def __enter__(self) -> PtyScanner:
        self.plug()
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.unplug()
