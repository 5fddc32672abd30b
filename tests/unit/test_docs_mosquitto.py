"""The mosquitto files in the docs are written as mosquitto reads them (issue 20, defect 1): mosquitto has
no trailing comments, so ``password_file /etc/mosquitto/passwd   # ...`` names a file with the comment in
its name. A real mosquitto starts with each of them in tests/e2e/test_docs_mosquitto.py."""

from __future__ import annotations

import pytest

from tests.docblocks import Block, mosquitto_blocks, trailing_comments

pytestmark = pytest.mark.timeout(30)


def test_the_docs_have_the_mosquitto_files_this_checks() -> None:
    found = {(b.doc.name, b.mosquitto_file) for b in mosquitto_blocks()}
    assert {
        ("security.md", "/etc/mosquitto/conf.d/dockgate.conf"),
        ("security.md", "/etc/mosquitto/acl"),
        ("fleet.md", "/etc/mosquitto/conf.d/bridge.conf"),
    } <= found


@pytest.mark.parametrize("block", mosquitto_blocks(), ids=lambda b: b.where)
def test_no_mosquitto_value_has_a_trailing_comment(block: Block) -> None:
    assert trailing_comments(block) == [], f"{block.where}: put each comment on a line of its own"
