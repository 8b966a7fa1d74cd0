"""The ``winnow`` command line (Typer).

The core defines the app and the commands that need only the core (``config``, ``doctor``,
``features``, ``samples``). Adapters contribute theirs (``sync``, ``audit``, ``serve``, ...)
through the ``winnow.commands`` entry-point group, so the core never imports them. A command
lives in ``<package>/<room>/cli.py`` (``sync/review/cli.py`` is ``winnow sync``) or, for the
core, in ``winnow/cli/<command>.py``.
"""
