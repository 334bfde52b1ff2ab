"""The ``llmcatalog`` command line (a face over the public API). Nothing imports it."""

from .main import main

__all__ = ["main"]
