"""Turn what a user typed into a :class:`Model`: a catalog name, a Hub id, a folder, a
``config.json`` or a ``.gguf`` file.

Order: an existing path is read from disk (a ``.gguf`` file with
:func:`~llmcatalog.importers.gguf.from_gguf`, a folder or ``config.json`` with
:func:`~llmcatalog.importers.local.from_local`); otherwise the catalog is asked (ids, names,
aliases, and Hub paths that exactly one catalog model links, e.g. ``meta-llama/Llama-2-7b-hf``);
otherwise an ``org/name`` id is read from the Hugging Face Hub when the ``hub`` extra is
installed (honouring the cache and ``HF_HUB_OFFLINE``). It lives in the registry wing because
it reads the catalog; the importers below it never do.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import CheckpointError, UnknownModelError
from ..values.model import Model
from .catalog import Catalog

__all__ = ["resolve_model"]

_FILE_SUFFIXES = frozenset({".gguf", ".json", ".safetensors"})
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


def _hub_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("huggingface_hub") is not None


def resolve_model(spec: str | os.PathLike[str] | Model, catalog: Catalog) -> Model:
    """The model ``spec`` names: a path to a ``.gguf`` file, a model folder or ``config.json``; a
    catalog id, name, alias or linked Hub path; or a Hub repository id (with the ``hub`` extra).

    Raises :class:`CheckpointError` for unreadable files and Hub failures (offline and not cached,
    not found) and :class:`UnknownModelError` (with suggestions) for anything else.
    """
    if isinstance(spec, Model):
        return spec
    path = Path(spec)
    text = os.fspath(spec)
    if text and (path.exists() or path.is_symlink()):
        if path.is_dir() or path.suffix == ".json":
            from ..importers.local import from_local

            return from_local(path).model
        if path.suffix.lower() == ".gguf":
            from ..importers.gguf import from_gguf

            return from_gguf(path).model
        raise CheckpointError(text, "expected a model folder, a config.json or a .gguf file")
    if path.suffix.lower() in _FILE_SUFFIXES or text.startswith(("/", "./", "../", "~", ".\\")):
        raise CheckpointError(text, "no such file or folder")
    try:
        return catalog.get_model(text)
    except UnknownModelError as exc:
        if not _HUB_ID.match(text):
            raise
        if not _hub_installed():
            raise CheckpointError(
                text,
                "not in the catalog; to read it from the Hugging Face Hub install the hub extra"
                " (pip install 'llmcatalog[hub]')",
            ) from exc
        from ..importers.hub import from_hub

        return from_hub(text).model
