"""The reader board keeps a driver's extra status fields as the driver last gave them: a field the driver
no longer reports (LLRP's ``antennas`` once disconnected) leaves the retained status (issue 20, defect 5)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.core.readers import ReaderBoard

pytestmark = pytest.mark.timeout(30)


def turn(board: ReaderBoard) -> list[dict[str, Any]]:
    published: list[dict[str, Any]] = []
    board.update(True, lambda _reader, payload: published.append(json.loads(payload)))
    return published


def test_antennas_leave_the_status_when_the_driver_stops_reporting_them() -> None:
    board = ReaderBoard(["portal"], lambda: 1_700_000_000.0)
    turn(board)
    board.report("portal", "connected", "inventorying", {"antennas": {"1": "connected"}, "gpi": {"1": "active"}})
    assert turn(board)[-1]["antennas"] == {"1": "connected"}
    board.report("portal", "disconnected", "half-open connection", {"gpi": {"1": "active"}})
    [status] = turn(board)
    assert status["state"] == "disconnected" and "antennas" not in status and status["gpi"] == {"1": "active"}
    assert "antennas" not in board.status["portal"]


def test_a_status_without_extra_fields_keeps_the_ones_it_has_and_an_unchanged_extra_publishes_nothing() -> None:
    board = ReaderBoard(["portal"], lambda: 1_700_000_000.0)
    turn(board)
    board.report("portal", "connected", "inventorying", {"antennas": {"1": "connected"}})
    turn(board)
    board.report("portal", "connected", "inventorying", {"antennas": {"1": "connected"}})
    assert turn(board) == []
    board.report("portal", "connected", "inventorying", None)  # a driver that has no extra state to say
    assert turn(board) == [] and board.status["portal"]["antennas"] == {"1": "connected"}
