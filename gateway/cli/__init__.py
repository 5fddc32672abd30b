"""The ``dockgate`` command: run, check-config, simulate, bench, demo.

``commands`` holds the parser and hands each command to its module: ``run`` (the gateway in the
foreground, with its signals), ``check`` (check-config), ``bench`` and ``demo/``.
"""

from gateway.cli.commands import main

__all__ = ["main"]
