"""``dockgate journal keygen | verify | export``: the journal's keys, the auditor's check of the local
journal or of a capture of the published events, and exports for audits (docs/traceability.md)."""

from __future__ import annotations

import argparse
import contextlib
import json
import sqlite3
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.cli.check import load_or_report
from gateway.cli.exitcodes import EXIT_BAD_CONFIG, EXIT_FAILURE, EXIT_OK
from gateway.config.transparency import UNASSIGNED
from gateway.domain.model import new_event_id
from gateway.journal.checkpointer import key_path
from gateway.journal.export import (
    FORMATS,
    ExportError,
    Selection,
    collect,
    epcis_document,
    parse_time,
    write_csv,
    write_jsonl,
)
from gateway.journal.keys import KeyError_, keygen, load_private, load_public
from gateway.journal.store import JournalStore
from gateway.journal.verify import Entry, Verdict, entry_from_payload, verify


def add_journal_commands(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="journal_command", metavar="SUBCOMMAND", required=True)
    gen = sub.add_parser("keygen", help="make an Ed25519 key pair for the journal's checkpoints")
    gen.add_argument("--out", required=True, type=Path, help="private key file (made 0600); the public key: OUT.pub")
    gen.set_defaults(handler=_cmd_keygen)
    check = sub.add_parser("verify", help="check the local journal, or a capture of the published events")
    check.add_argument("--config", "-c", help="the gateway's config: finds the journal and its key")
    check.add_argument("--public-key", type=Path, help="the journal's public key (PEM); off the box, with --events")
    check.add_argument(
        "--events", type=Path, help="a capture: JSON lines as mosquitto_sub writes them (with or without -v)"
    )
    check.set_defaults(handler=_cmd_verify)
    export = sub.add_parser(
        "export",
        help="export the events of a time range, with the checkpoints that cover them, for an audit",
        description="The events whose time is in [--from, --to) (inclusive from, exclusive to), with the "
        "checkpoints that cover them. jsonl: the stretch of the chain around them (another owner's entries, with "
        "--owner, as redacted links), verifiable with 'dockgate journal verify --events FILE --public-key KEY'; "
        "csv and epcis: the selected events only. See docs/traceability.md, Exports.",
    )
    export.add_argument("--config", "-c", required=True, help="the gateway's config: finds the journal")
    export.add_argument("--from", dest="start", required=True, metavar="T", help="RFC 3339, inclusive")
    export.add_argument("--to", dest="end", required=True, metavar="T", help="RFC 3339, exclusive")
    export.add_argument("--owner", metavar="NAME", help="only this owner's events (owners[].name, or unassigned)")
    export.add_argument("--format", choices=FORMATS, default="jsonl", help="default jsonl")
    export.add_argument("--out", type=Path, help="the file to write (default: stdout)")
    export.set_defaults(handler=_cmd_export)


def _cmd_keygen(ns: argparse.Namespace) -> int:
    try:
        key = keygen(ns.out)
    except FileExistsError:
        print(f"{ns.out} exists: a journal key is never overwritten; choose another file", file=sys.stderr)
        return EXIT_FAILURE
    del key
    print(f"private key: {ns.out} (owner-only; journal.key_file)\npublic key:  {ns.out}.pub (for auditors)")
    return EXIT_OK


def _cmd_verify(ns: argparse.Namespace) -> int:
    if ns.config is None and (ns.events is None or ns.public_key is None):
        print("give --config FILE, or --events FILE with --public-key FILE", file=sys.stderr)
        return EXIT_FAILURE
    try:
        public = load_public(ns.public_key) if ns.public_key is not None else None
        if ns.config is None:
            assert public is not None
            entries, captured = _capture(ns.events)
            return _report(f"capture {ns.events}", verify(entries, _merge(captured), public))
        config = load_or_report(ns.config)
        if config is None:
            return EXIT_BAD_CONFIG
        path = config.outbox.path
        if not path.exists():
            print(f"no journal: {path} does not exist (outbox.path)", file=sys.stderr)
            return EXIT_FAILURE
        public = public or _public_of(key_path(config.journal, path))
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except KeyError_ as exc:
        print(exc, file=sys.stderr)
        return EXIT_FAILURE
    try:
        store = JournalStore(lambda: db)
        checkpoints = store.checkpoints()
        if ns.events is not None:
            entries, captured = _capture(ns.events)
            return _report(f"capture {ns.events}", verify(entries, _merge(checkpoints, captured), public))
        verdict = verify(store.entries(), checkpoints, public)
        _compare_with_outbox(db, verdict)
        return _report(f"journal {path}", verdict)
    finally:
        db.close()


def _cmd_export(ns: argparse.Namespace) -> int:
    config = load_or_report(ns.config)
    if config is None:
        return EXIT_BAD_CONFIG
    path = config.outbox.path
    try:
        selection = Selection(parse_time(ns.start, "--from"), parse_time(ns.end, "--to"), ns.owner)
        if selection.end <= selection.start:
            raise ExportError(f"--to {ns.end} is not after --from {ns.start}: the range would be empty")
        owners = {owner.name for owner in config.owners} | {UNASSIGNED}
        if ns.owner is not None and ns.owner not in owners:
            raise ExportError(f"--owner: {ns.owner!r} is not an owner in {ns.config} ({', '.join(sorted(owners))})")
        if not path.exists():
            raise ExportError(f"no journal: {path} does not exist (outbox.path)")
    except ExportError as exc:
        print(exc, file=sys.stderr)
        return EXIT_FAILURE
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        export = collect(JournalStore(lambda: db), selection)
    except sqlite3.Error as exc:
        print(f"cannot read the journal in {path}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        db.close()
    settings = {location.name: location.epcis for location in config.locations}
    with ns.out.open("w", encoding="utf-8", newline="") if ns.out else contextlib.nullcontext(sys.stdout) as out:
        if ns.format == "jsonl":
            write_jsonl(export, out)
        elif ns.format == "csv":
            write_csv(export, out)
        else:
            doc = epcis_document(export, settings.get, f"urn:uuid:{new_event_id()}", time.time())
            out.write(json.dumps(doc, ensure_ascii=False, indent=1) + "\n")
    print(
        f"exported {len(export.selected)} events, {len(export.segment)} entries, {len(export.checkpoints)} checkpoints",
        file=sys.stderr,
    )
    return EXIT_OK


def _report(what: str, verdict: Verdict) -> int:
    print(f"{what}: {verdict.summary()}")
    for seq, why in verdict.problems[1:20]:
        print(f"  seq {seq}: {why}")
    return EXIT_OK if verdict.ok else EXIT_FAILURE


def _public_of(path: Path) -> Ed25519PublicKey:
    pub = path.with_name(path.name + ".pub")
    return load_public(pub) if pub.exists() else load_private(path).public_key()


def _capture(path: Path) -> tuple[Iterator[Entry], list[dict[str, Any]]]:
    entries: list[Entry] = []
    checkpoints: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            text = line.strip()
            if not text:
                continue
            if not text.startswith("{"):  # mosquitto_sub -v: "topic payload"
                text = text.partition(" ")[2]
            try:
                doc = json.loads(text)
            except json.JSONDecodeError:
                continue  # not a JSON message (a status line): not ours to check
            if isinstance(doc, dict) and "signature" in doc and "key_id" in doc:
                checkpoints.append(doc)
            elif isinstance(doc, dict) and "seq" in doc and "hash" in doc:
                entries.append(entry_from_payload(doc))
    return iter(entries), checkpoints


def _merge(*lists: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_seq = {int(cp["seq"]): cp for found in lists for cp in found}
    return [by_seq[s] for s in sorted(by_seq)]


def _compare_with_outbox(db: sqlite3.Connection, verdict: Verdict) -> None:
    """A tail cut after the last checkpoint leaves links intact: the outbox's highest seq tells."""
    row = db.execute("SELECT value FROM meta WHERE key = 'last_seq'").fetchone()
    given = int(row[0]) if row else 0
    last = verdict.last_seq or 0
    if given > last:
        verdict.problems.append((last + 1, f"the journal ends at seq {last}, the gateway gave seqs up to {given}"))
        verdict.problems.sort(key=lambda problem: problem[0])
