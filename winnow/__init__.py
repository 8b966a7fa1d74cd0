"""Winnow's shared core: settings, image I/O, models, the feature store and the CLI.

Everything here is used by the adapters (``ml_backend``, ``sync``, ``serve``) and by the pure
computations in ``analysis``. Nothing here imports any of them.
"""

__version__ = "0.1.0"
