"""Seq numbers that never go back: a small side file beside the outbox (``<outbox>.seq``) reserves them in
blocks, so that even an outbox file that had to be replaced (corrupt, deleted) continues above every
number handed out before. The outbox's own ``meta`` table keeps the last seq given; this file is the floor."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from gateway.domain.log import get_logger

log = get_logger(__name__)

SEQ_BLOCK = 10_000  # seq numbers reserved in the side file at a time


class SeqReservation:
    def __init__(self, path: Path) -> None:
        self.path = path

    def reserved(self) -> int:
        """The highest number reserved so far (0 when the file is missing or unreadable: logged)."""
        try:
            return int(self.path.read_text(encoding="ascii").strip() or 0)
        except FileNotFoundError:
            return 0
        except (OSError, ValueError) as exc:
            log.error("seq_file_unreadable", file=str(self.path), error=str(exc))
            return 0

    def reserve(self, upto: int) -> int:
        """Durably reserve numbers up to ``upto`` (write, fsync, rename). Raises ``sqlite3.OperationalError``
        on failure, so the outbox's transaction that needed the numbers rolls back."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="ascii") as handle:
                handle.write(f"{upto}\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            raise sqlite3.OperationalError(f"cannot reserve seq numbers in {self.path}: {exc}") from exc
        return upto
