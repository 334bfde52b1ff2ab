"""Tools and frameworks around LLMs (agents, RAG, knowledge extraction, ...)."""

from __future__ import annotations

import attrs

from . import validators as v

__all__ = ["Tool"]


@attrs.frozen(kw_only=True)
class Tool:
    """A software tool from the survey's tools table: what it does, where it lives."""

    id: str = attrs.field(validator=v.slug)
    name: str = attrs.field(validator=attrs.validators.min_len(1))
    category: str = attrs.field(validator=v.slug)
    url: str = attrs.field(validator=v.url)
    sources: tuple[str, ...] = attrs.field(default=(), converter=tuple, validator=v.urls)
    aliases: tuple[str, ...] = attrs.field(default=(), converter=tuple, validator=v.str_tuple)
    description: str | None = None
    description_zh: str | None = None
    organization: str | None = None
    license: str | None = None
    notes: str | None = None
