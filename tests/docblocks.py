"""Fenced blocks of the docs, for tests that check them against the real thing (issue 20).

A mosquitto block is a fence without a language whose first line is a comment naming a file under
``/etc/mosquitto/`` (``# /etc/mosquitto/conf.d/bridge.conf on the edge broker``): a configuration file
when that path is under ``conf.d/``, an ACL file when it ends in ``acl``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOCS = sorted([REPO / "README.md", *(REPO / "docs").glob("*.md")])

_FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```\s*$", re.S | re.M)


@dataclass(frozen=True)
class Block:
    doc: Path
    line: int  # of the opening fence, 1-based
    lang: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.doc.relative_to(REPO)}:{self.line}"

    @property
    def mosquitto_file(self) -> str | None:
        """The /etc/mosquitto/... path the block's first line names, or None."""
        first = self.text.split("\n", 1)[0]
        found = re.match(r"#\s*(/etc/mosquitto/\S+)", first)
        return found.group(1) if found and not self.lang else None


def blocks(doc: Path) -> list[Block]:
    text = doc.read_text(encoding="utf-8")
    return [Block(doc, text.count("\n", 0, m.start()) + 1, m.group(1), m.group(2)) for m in _FENCE.finditer(text)]


def mosquitto_blocks() -> list[Block]:
    return [b for doc in DOCS for b in blocks(doc) if b.mosquitto_file is not None]


def mosquitto_block(doc: str, path: str) -> Block:
    """The first block of ``docs/<doc>`` that is the file ``path`` (exactly, or followed by a note)."""
    for block in mosquitto_blocks():
        if block.doc.name == doc and block.mosquitto_file == path:
            return block
    raise AssertionError(f"docs/{doc}: no mosquitto block for {path}")


def trailing_comments(block: Block) -> list[str]:
    """Value lines with a ``#`` after the value: mosquitto reads that comment as part of the value."""
    return [
        line
        for line in block.text.splitlines()
        if line.strip() and not line.lstrip().startswith("#") and re.search(r"\s#", line)
    ]
