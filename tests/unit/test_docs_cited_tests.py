"""The tests the docs cite exist (issue 20, defect 6: docs/security.md described a "known issue" tracked by an
``xfail`` test that no longer existed)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(30)

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])


def test_every_test_a_doc_cites_by_node_id_exists() -> None:
    missing = []
    for doc in DOCS:
        for path, name in re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", doc.read_text(encoding="utf-8")):
            source = ROOT / path
            if not source.is_file() or not re.search(rf"^def {name}\(", source.read_text(encoding="utf-8"), re.M):
                missing.append(f"{doc.name}: {path}::{name}")
    assert missing == []


def test_a_doc_mentions_an_xfail_test_only_while_one_exists() -> None:
    xfails = [
        p for p in (ROOT / "tests").rglob("*.py") if re.search(r"pytest\.mark\.xfail\b", p.read_text(encoding="utf-8"))
    ]
    mentions = [doc.name for doc in DOCS if "xfail" in doc.read_text(encoding="utf-8")]
    assert xfails or not mentions, f"{mentions} mention an xfail test, and the suite has none"


def test_the_refusal_backoff_the_security_doc_describes_is_the_one_tested() -> None:
    text = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    assert "Known issue" not in text
    assert "`tests/e2e/test_mqtt_security.py::test_refused_events_are_retried_with_backoff_not_every_tick`" in text
