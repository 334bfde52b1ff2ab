"""An example llmcatalog plugin: Japanese models fine-tuned from Llama 2.

A plugin is a zero-argument callable registered under the ``llmcatalog.models`` entry-point
group (see ``pyproject.toml``). It returns ``llmcatalog.Model`` objects; the easiest way is to
ship a TOML file in llmcatalog's data format and read it with ``llmcatalog.load_toml``.
Models may name catalog models as ``base_model`` (here ``llama-2-7b``) and inherit their
architecture, so they can be estimated at once.
"""

from __future__ import annotations

from importlib.resources import files

import llmcatalog


def models() -> tuple[llmcatalog.Model, ...]:
    """The models this plugin contributes."""
    return llmcatalog.load_toml(files(__package__).joinpath("models.toml"))["models"]
