"""Every config key, metric, dockgate command and flag, and MQTT topic the prose of the docs names (in inline
code) exists (issue 20). The checks: tests/docnames.py, name_problems; fed wrong names on purpose in
tests/unit/test_docs_checker.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docnames import name_problems, prose_docs

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("doc", prose_docs(), ids=lambda d: d.name)
def test_every_name_the_doc_uses_exists(doc: Path) -> None:
    assert name_problems(doc) == []
