"""The ``winnow`` command line (Typer).

The core defines the app and the commands that need only the core (``config``, ``features``,
``samples``). Adapters contribute their own commands (``sync``, ``audit``, ``serve``, ...)
through the ``winnow.commands`` entry-point group, so the core never imports them. Commands
that are planned but not built yet still appear and say so.
"""

from winnow.cli.app import app, main

__all__ = ["app", "main"]
