"""A Hugging Face Hub repository: its ``config.json`` and its safetensors *headers* (never the weights).

    >>> ckpt = llmcatalog.from_hub("Qwen/Qwen2.5-7B-Instruct")          # doctest: +SKIP
    >>> ckpt.model.n_params, dict(ckpt.params_by_dtype)

Needs the ``hub`` extra (``huggingface_hub``). ``config.json`` comes through
``huggingface_hub.hf_hub_download``, so the local cache is used and filled as usual. The headers
come from the cache when the repository's weights are there (read with
:func:`~llmcatalog.importers.local.read_safetensors_header`), else from the Hub with
``get_safetensors_metadata``, which fetches each file's header with HTTP range requests.

Offline (``HF_HUB_OFFLINE=1``, read when the function is called, or ``offline=True``) only the cache
is read: a repository whose ``config.json`` is not cached is a :class:`CheckpointError` saying so;
one whose config is cached but whose weights are not gives the config's architecture and a note.
``HF_HUB_CACHE`` is also read at call time.

Online, one HEAD request for ``config.json`` without retries (:func:`hub_unreachable`, at most
:data:`PROBE_TIMEOUT_S`) comes first: when it cannot connect, the cache is read as if offline and
a repository not cached fails at once saying the Hub is unreachable, instead of
``hf_hub_download``'s five retries with back-off (about 24 s without a network).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import CheckpointError, MissingDependencyError
from ..values.model import Links
from .files import read_json
from .local import (
    LocalCheckpoint,
    SafetensorsHeader,
    TensorInfo,
    checkpoint_from_headers,
    read_safetensors_header,
    read_weight_map,
)

__all__ = ["PROBE_TIMEOUT_S", "from_hub", "hub_unreachable", "is_offline"]

#: Seconds the first request to the Hub may take before the Hub counts as unreachable.
PROBE_TIMEOUT_S = 3.0

_INDEX = "model.safetensors.index.json"
_SINGLE = "model.safetensors"


def is_offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) is set to a true value now."""
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return value.strip().upper() in {"1", "ON", "YES", "TRUE"}


def _hub() -> Any:
    try:
        import huggingface_hub
    except ImportError as exc:
        raise MissingDependencyError("reading Hugging Face Hub repositories", "huggingface_hub", "hub") from exc
    return huggingface_hub


def hub_unreachable(hub: Any, repo_id: str, revision: str | None, token: str | bool | None) -> Exception | None:
    """The connection error of one HEAD request for ``repo_id``'s ``config.json`` (no retries,
    :data:`PROBE_TIMEOUT_S`), or None when the Hub answered (an HTTP error such as 404 or 401 is
    an answer: ``hf_hub_download`` then reports it as usual)."""
    from huggingface_hub.utils import HfHubHTTPError, HFValidationError

    try:
        url = hub.hf_hub_url(repo_id, "config.json", revision=revision)
        hub.get_hf_file_metadata(url, token=token, timeout=PROBE_TIMEOUT_S)
    except (HfHubHTTPError, HFValidationError):
        return None
    except Exception as exc:  # DNS, refused or timed-out connections, proxies: no answer at all
        return exc
    return None


def _cached_headers(snapshot: Path) -> tuple[list[SafetensorsHeader], dict[str, str] | None] | None:
    """The headers of the weights cached in ``snapshot`` when all of them are there, else None."""
    index_path = snapshot / _INDEX
    if index_path.exists():
        shards, weight_map = read_weight_map(index_path)
        if not all((snapshot / s).exists() for s in shards):
            return None
        return [read_safetensors_header(snapshot / s) for s in shards], weight_map
    if (snapshot / _SINGLE).exists():
        return [read_safetensors_header(snapshot / _SINGLE)], None
    return None


def _remote_headers(hub: Any, repo_id: str, revision: str | None, token: str | bool | None) -> list[SafetensorsHeader]:
    """Each safetensors file's header fetched from the Hub (range requests); [] for a repository
    without safetensors weights."""
    from huggingface_hub.utils import NotASafetensorsRepoError, SafetensorsParsingError

    try:
        meta = hub.get_safetensors_metadata(repo_id, revision=revision, token=token)
    except NotASafetensorsRepoError:
        return []
    except SafetensorsParsingError as exc:
        raise CheckpointError(repo_id, f"a safetensors header on the Hub cannot be parsed: {exc}") from exc
    headers = []
    for filename, file_meta in sorted(meta.files_metadata.items()):
        tensors = tuple(
            TensorInfo(
                name=key,
                dtype=str(info.dtype),
                shape=tuple(int(d) for d in info.shape),
                nbytes=int(info.data_offsets[1]) - int(info.data_offsets[0]),
            )
            for key, info in file_meta.tensors.items()
        )
        headers.append(
            SafetensorsHeader(
                path=f"{repo_id}/{filename}",
                tensors=tensors,
                metadata=dict(file_meta.metadata or {}),
                header_bytes=0,
                file_bytes=0,
            )
        )
    return headers


def _fetch_config(
    hub: Any,
    repo_id: str,
    revision: str | None,
    cache_dir: str | None,
    offline: bool,
    token: str | bool | None,
    unreachable: Exception | None = None,
) -> Path:
    from huggingface_hub.utils import (
        EntryNotFoundError,
        GatedRepoError,
        HFValidationError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    at = f" at revision {revision!r}" if revision else ""
    try:
        return Path(
            hub.hf_hub_download(
                repo_id,
                "config.json",
                revision=revision,
                cache_dir=cache_dir,
                local_files_only=offline or unreachable is not None,
                token=token,
            )
        )
    except HFValidationError as exc:
        raise CheckpointError(repo_id, f"not a Hugging Face repository id ('org/name'): {exc}") from exc
    except (LocalEntryNotFoundError, OfflineModeIsEnabled) as exc:
        where = cache_dir or "the default Hugging Face cache"
        if unreachable is not None:
            reason = (
                f"config.json{at} is not in the local cache ({where}) and the Hugging Face Hub is unreachable"
                f" ({type(unreachable).__name__}: {unreachable}); connect, or download it once elsewhere"
                " (`hf download REPO config.json`)"
            )
        elif offline:
            reason = (
                f"config.json{at} is not in the local cache ({where}) and offline mode is on (HF_HUB_OFFLINE);"
                " download it once online (`hf download REPO config.json`) or unset HF_HUB_OFFLINE"
            )
        else:
            reason = f"config.json{at} is not in the local cache ({where}) and the Hub cannot be reached: {exc}"
        raise CheckpointError(repo_id, reason) from exc
    except GatedRepoError as exc:
        raise CheckpointError(
            repo_id, "the repository is gated: accept its licence and log in (`hf auth login`)"
        ) from exc
    except RepositoryNotFoundError as exc:
        raise CheckpointError(repo_id, "no such repository on the Hub (or it is private: log in)") from exc
    except RevisionNotFoundError as exc:
        raise CheckpointError(repo_id, f"no revision {revision!r} in this repository") from exc
    except EntryNotFoundError as exc:
        raise CheckpointError(repo_id, f"the repository has no config.json{at}; is it a transformers model?") from exc
    except OSError as exc:  # HTTP errors (HfHubHTTPError is an OSError), unreadable cache
        raise CheckpointError(repo_id, f"cannot fetch config.json{at}: {exc}") from exc


def from_hub(
    repo_id: str,
    revision: str | None = None,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    offline: bool | None = None,
    token: str | bool | None = None,
    **fields: Any,
) -> LocalCheckpoint:
    """Read a Hub repository's ``config.json`` and safetensors headers: a :class:`LocalCheckpoint`
    whose Model has the exact parameter count (per dtype in ``params_by_dtype``).

    ``offline`` defaults to ``HF_HUB_OFFLINE`` as set now; ``cache_dir`` to ``HF_HUB_CACHE`` as set
    now (else huggingface_hub's default). ``fields`` override the Model's fields. Raises
    :class:`CheckpointError` naming the repository (offline and not cached, not found, gated, no
    config.json) and :class:`MissingDependencyError` without the ``hub`` extra.
    """
    if not isinstance(repo_id, str) or repo_id.count("/") != 1:
        raise CheckpointError(str(repo_id), "expected a Hugging Face repository id 'org/name'")
    hub = _hub()
    offline = is_offline() if offline is None else offline
    cache = os.fspath(cache_dir) if cache_dir is not None else os.environ.get("HF_HUB_CACHE") or None
    unreachable = None if offline else hub_unreachable(hub, repo_id, revision, token)
    config_path = _fetch_config(hub, repo_id, revision, cache, offline, token, unreachable)
    config = read_json(config_path)
    cached = _cached_headers(config_path.parent)
    notes: tuple[str, ...] = ()
    if cached is not None:
        headers, weight_map = cached
    elif offline or unreachable is not None:
        headers, weight_map = [], None
        why = "offline" if offline else "the Hub is unreachable"
        notes = (f"{why} and the safetensors weights are not cached: n_params is the config architecture's count",)
    else:
        headers, weight_map = _remote_headers(hub, repo_id, revision, token), None
        if not headers:
            notes = ("the repository has no safetensors weights: n_params is the config architecture's count",)
    url = f"https://huggingface.co/{repo_id}"
    fields.setdefault("name", repo_id.rsplit("/", 1)[1])
    fields.setdefault("organization", repo_id.split("/", 1)[0])
    fields.setdefault("sources", (url,))
    fields.setdefault("links", Links(hub=url))
    label = f"{repo_id}@{revision}" if revision else repo_id
    return checkpoint_from_headers(label, config, headers, weight_map=weight_map, notes=notes, **fields)
