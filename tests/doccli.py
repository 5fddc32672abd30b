"""The ``dockgate`` commands the docs use, and the ``sh`` blocks' check (tests/docblocks.py): each command run
in this process, its subcommands and flags found from its parsers and its ``--help``."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

import yaml

from tests.docblocks import REPO, Block, shell_commands


def run_cli(args: list[str], cwd: Path | None = None) -> tuple[int, str]:
    """``dockgate ARGS`` run in this process (in ``cwd``): its exit code and what it wrote, stdout then stderr."""
    from gateway.cli import main

    out, err = io.StringIO(), io.StringIO()
    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # argparse wraps --help to the terminal: the same width everywhere
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), contextlib.chdir(cwd or Path.cwd()):
            try:
                code = main(args)
            except SystemExit as exc:  # argparse: --help, or an error
                code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    finally:
        if columns is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = columns
    return code, out.getvalue() + err.getvalue()


def dockgate_args(argv: list[str]) -> list[str] | None:
    """The arguments of a ``dockgate`` or ``python -m gateway`` command line; None for another command."""
    if argv and Path(argv[0]).name == "dockgate":
        return argv[1:]
    if len(argv) >= 3 and re.fullmatch(r"python3?", Path(argv[0]).name) and argv[1:3] == ["-m", "gateway"]:
        return argv[3:]
    return None


@cache
def cli_parsers() -> dict[tuple[str, ...], argparse.ArgumentParser]:
    """Every ``dockgate`` command by its words (``("journal", "export")``), with its parser."""
    from gateway.cli.commands import _parser
    from simulators.impinj_iot.cli import build_parser as impinj_iot_parser
    from simulators.llrp.cli import build_parser as llrp_parser
    from simulators.scanner.cli import _parser as scanner_parser

    found: dict[tuple[str, ...], argparse.ArgumentParser] = {}

    def walk(path: tuple[str, ...], parser: argparse.ArgumentParser) -> None:
        found[path] = parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk((*path, name), sub)

    walk((), _parser())
    # ``dockgate simulate KIND ...`` hands KIND's arguments to the simulator's own parser
    found[("simulate", "llrp")] = llrp_parser()
    found[("simulate", "impinj-iot")] = impinj_iot_parser()
    found[("simulate", "scanner")] = scanner_parser()
    return found


@cache
def cli_help(path: tuple[str, ...]) -> str:
    return run_cli([*path, "--help"])[1]


def cli_flags() -> dict[tuple[str, ...], list[str]]:
    """The long options of every command (``--help`` left out)."""
    return {
        path: [o for a in parser._actions for o in a.option_strings if o.startswith("--") and o != "--help"]
        for path, parser in cli_parsers().items()
    }


def cli_problems(args: list[str], where: str) -> list[str]:
    """A subcommand that does not exist, or a flag its ``--help`` does not name."""
    parsers = cli_parsers()
    path: tuple[str, ...] = ()
    rest = list(args)
    while rest and (*path, rest[0]) in parsers:
        path = (*path, rest.pop(0))
    shown = " ".join(("dockgate", *args))
    command = " ".join(("dockgate", *path))
    has_subcommands = any(len(p) > len(path) and p[: len(path)] == path for p in parsers)
    if has_subcommands and rest and not rest[0].startswith("-"):
        return [f"{where}: `{shown}`: {rest[0]} is not a subcommand of `{command}`"]
    help_text = cli_help(path)
    return [
        f"{where}: `{shown}`: {flag} is not in `{command} --help`"
        for flag in (a.split("=", 1)[0] for a in rest if re.match(r"--?[A-Za-z]", a))
        if not re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", help_text)
    ]


@cache
def _tool_help(tool: str) -> str:
    done = subprocess.run([tool, "--help"], capture_output=True, text=True, timeout=10, check=False)
    return done.stdout + done.stderr


@cache
def api_paths() -> list[re.Pattern[str]]:
    """The paths the HTTP listener serves: docs/openapi.yaml's, as patterns."""
    spec = yaml.safe_load((REPO / "docs" / "openapi.yaml").read_text(encoding="utf-8"))
    return [re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(p)) + "/?") for p in spec["paths"]]


def command_problems(argv: list[str], where: str) -> list[str]:
    """What is wrong with one simple command of a ``sh`` block, as far as it can be checked without running it."""
    args = dockgate_args(argv)
    if args is not None:
        problems = cli_problems(args, where)
        if not problems and args[:1] == ["check-config"] and len(args) == 2 and _repo_file(args[1]):
            code, out = run_cli(args, cwd=REPO)  # a file of the repository: cheap to run, so run it
            problems += [f"{where}: `dockgate check-config {args[1]}` exits {code}:\n{out}"] if code else []
        return problems
    name = Path(argv[0]).name
    if re.fullmatch(r"python3?", name) and len(argv) > 1:
        if argv[1] == "-m":
            import importlib.util

            found = importlib.util.find_spec(argv[2]) is not None
            return [] if found else [f"{where}: `python -m {argv[2]}`: no such module"]
        return [] if (REPO / argv[1]).is_file() else [f"{where}: `python {argv[1]}`: no such file in the repository"]
    if argv[0].startswith("./"):
        script = REPO / argv[0]
        return [] if os.access(script, os.X_OK) else [f"{where}: {argv[0]}: no such executable in the repository"]
    if name in ("mosquitto_pub", "mosquitto_sub"):
        if shutil.which(name) is None:
            return [f"{where}: {name} is not installed (./scripts/test installs mosquitto-clients)"]
        return [
            f"{where}: {name} {flag}: not in `{name} --help`"
            for flag in argv[1:]
            if re.fullmatch(r"-[A-Za-z]|--[\w-]+", flag)
            and not re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", _tool_help(name))
        ]
    if name == "curl":
        return [
            f"{where}: curl {url}: {path} is not a path of docs/openapi.yaml"
            for url in argv[1:]
            for path in re.findall(r"^(?:https?://)?(?:127\.0\.0\.1|localhost)(?::\d+)?(/[^?\s]*)", url)
            if not any(p.fullmatch(path) for p in api_paths())
        ]
    return []


def _repo_file(name: str) -> bool:
    return not Path(name).is_absolute() and (REPO / name).is_file()


def shell_problems(block: Block) -> list[str]:
    parsed = subprocess.run(["bash", "-n"], input=block.text, capture_output=True, text=True, check=False)
    problems = [f"{block.where}: bash -n: {parsed.stderr.strip()}"] if parsed.returncode else []
    for argv in shell_commands(block.text):
        problems += command_problems(argv, block.where)
    return problems
