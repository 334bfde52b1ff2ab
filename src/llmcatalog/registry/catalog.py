"""The :class:`Catalog`: an immutable, indexed collection of models, GPUs and tools.

Look-ups accept ids, display names and aliases in any case, spacing or punctuation
(``"Llama 2 7B"``, ``"llama-2-7b"``, ``"本草"``). Building a catalog resolves lineage: a
model without an architecture of its own inherits the nearest ancestor's (``architecture_from``
names it) unless its ``architecture_differs`` says why it cannot, and ``n_params`` (the total
over a multimodal model's components) follows when the model does not state its own.
"""

from __future__ import annotations

import math
import re
import unicodedata
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, Generic, TypeVar

import attrs

from ..errors import (
    AmbiguousGPUError,
    CatalogDataError,
    DuplicateEntryError,
    PluginError,
    QueryError,
    SeriesNameWarning,
    UnknownEntryError,
    UnknownGPUError,
    UnknownModelError,
    UnknownToolError,
    outside_stacklevel,
)
from ..memory.params import count_params
from ..values.gpu import GPU
from ..values.model import Architecture, Component, Model, PublishedFigure
from ..values.tool import Tool
from .names import (
    ORGANIZATION_SYNONYMS,
    NameParts,
    cjk_runs,
    domain_id,
    english_name,
    language_code,
    looks_like_pinyin,
    name_parts,
    normalize,
    pinyin,
    rank_names,
    simplified,
    subdomain_id,
    suggest,
)

__all__ = ["Catalog", "FamilyNameError", "OrganizationNameError", "PluginInfo"]


class FamilyNameError(UnknownModelError):
    """A family name ("Meditron", "Llama3-Med42", "Qwen2.5-Math") that several catalog models share:
    the message lists every member, and ``suggestions`` holds their ids (smallest first)."""

    def __init__(self, name: str, family: str, members: tuple[str, ...], others: tuple[str, ...] = ()) -> None:
        super().__init__(name, members)
        self.family = family
        self.others = others
        shown = repr(name) if len(name) <= 200 else f"{name[:200]!r}..."
        rest = f" (the {family} series also has {', '.join(others)})" if others else ""
        self.args = (
            f"{shown} names {len(members)} catalog models of the {family} series: {', '.join(members)}{rest}. "
            "Name one of them (`llmcatalog show ID` describes each).",
        )


class OrganizationNameError(UnknownModelError):
    """A model name that is the name of an organisation ("深度求索", "智谱", "Meta"): the message says
    how many catalog models it has and how to list them; ``suggestions`` holds some of their ids
    (largest first) and ``organizations`` the organisation names matched."""

    def __init__(self, name: str, organizations: tuple[str, ...], members: tuple[str, ...]) -> None:
        super().__init__(name, members[:8])
        self.organizations = organizations
        shown = repr(name) if len(name) <= 200 else f"{name[:200]!r}..."
        orgs = ", ".join(map(repr, organizations[:3])) + (
            f" and {len(organizations) - 3} more" if len(organizations) > 3 else ""
        )
        self.args = (
            f"{shown} is an organisation ({orgs}), not a model: it has {len(members)} catalog models. "
            f"List them with `llmcatalog list models --org {name}` (Python: "
            f"`llmcatalog.find_models(organization={name!r})`), or name one: {', '.join(members[:8])}.",
        )


E = TypeVar("E", Model, GPU, Tool)

_HUB = re.compile(r"https?://(?:www\.)?(?:huggingface\.co|hf-mirror\.com|modelscope\.cn/models)/([^/\s?#]+/[^/\s?#]+)")
# "(?<!\d)" anchors the digit run at its start: without it a long run of digits is tried from
# every position (quadratic: 16 s for 20,000 digits).
_SIZE_G = re.compile(r"(?<!\d)(\d+)\s*G\b(?!B)", re.IGNORECASE)

#: Longest search text :meth:`Catalog.search` accepts (a longer one raises :class:`QueryError`).
MAX_SEARCH_CHARS = 1_000
#: Names longer than this cannot be catalog names: look-ups fail fast without normalising them.
MAX_NAME_CHARS = 1_000


def _check_str(value: object, arg: str, *, optional: bool = True, max_chars: int | None = None) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise TypeError(f"{arg}= must be a string{' or None' if optional else ''}, got {type(value).__name__}")
    if max_chars is not None and len(value) > max_chars:
        raise QueryError(f"{arg}= is {len(value):,} characters; a filter value is at most {max_chars:,}")


def _check_count(value: object, arg: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{arg}= must be a number of parameters (e.g. 7e9) or None, got {type(value).__name__}")
    if not math.isfinite(value) or value < 0:
        raise QueryError(f"{arg}={value!r} is not a parameter count: give a finite number >= 0 (e.g. 7e9)")


def _check_flag(value: object, arg: str) -> None:
    if value is not None and not isinstance(value, bool):
        raise TypeError(f"{arg}= must be True, False or None, got {type(value).__name__}")


@attrs.frozen(kw_only=True)
class PluginInfo:
    """One entry point that contributed to a catalog."""

    group: str
    name: str
    value: str
    distribution: str | None
    version: str | None
    builtin: bool
    count: int


def _keys(entry: Model | GPU | Tool) -> list[str]:
    keys = [normalize(entry.id), normalize(entry.name)]
    keys.extend(normalize(a) for a in entry.aliases)
    return [k for k in dict.fromkeys(keys) if k]


def _name_parts(entry: Model | GPU | Tool) -> list[tuple[NameParts, str]]:
    """Each distinct id, name and alias of ``entry`` split at its size, with the entry's id."""
    return [(name_parts(text), entry.id) for text in dict.fromkeys((entry.id, entry.name, *entry.aliases))]


class _Index(Generic[E]):
    """Entries of one kind by id, plus a name/alias index; detects conflicting claims."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.by_id: dict[str, E] = {}
        self.provider: dict[str, str] = {}
        self.names: dict[str, str] = {}
        # Hub repository paths ("meta-llama/Meta-Llama-3-8B") as a fallback; ambiguous ones are dropped.
        self.hub: dict[str, set[str]] = {}
        # Series names ("dall-e") -> ids of their members, a fallback after names and Hub paths.
        self.series: dict[str, set[str]] = {}
        self._parts: list[tuple[NameParts, str]] | None = None
        self._loose_names: list[tuple[str, str]] | None = None

    def copy(self) -> _Index[E]:
        new: _Index[E] = _Index(self.kind)
        new.by_id, new.provider, new.names = dict(self.by_id), dict(self.provider), dict(self.names)
        new.hub = {k: set(v) for k, v in self.hub.items()}
        new.series = {k: set(v) for k, v in self.series.items()}
        return new

    def conflicts(self, entries: Iterable[E], provider: str) -> list[str]:
        """Problems adding ``entries`` would cause (different entries with one id or name)."""
        problems = []
        local: dict[str, str] = {}
        local_ids: dict[str, E] = {}
        for e in entries:
            have = self.by_id.get(e.id) or local_ids.get(e.id)
            if have is not None and have != e:
                who = self.provider.get(e.id, provider)
                problems.append(f"{self.kind} id {e.id!r} is provided differently by {who} and {provider}")
                continue
            local_ids[e.id] = e
            for key in _keys(e):
                owner = self.names.get(key) or local.get(key)
                if owner is not None and owner != e.id:
                    who = self.provider.get(owner, provider)
                    problems.append(
                        f"{self.kind} name {key!r} of {e.id!r} ({provider}) is already used by {owner!r} ({who})"
                    )
                else:
                    local[key] = e.id
        return problems

    def add(self, entries: Iterable[E], provider: str) -> None:
        for e in entries:
            self.by_id.setdefault(e.id, e)
            self.provider.setdefault(e.id, provider)
            for key in _keys(e):
                self.names.setdefault(key, e.id)
            hub = getattr(getattr(e, "links", None), "hub", None)
            match = _HUB.match(hub or "")
            if match:
                self.hub.setdefault(normalize(match.group(1)), set()).add(e.id)
            series = getattr(e, "series", None)
            if series:
                self.series.setdefault(normalize(series), set()).add(e.id)
        self._parts = None
        self._loose_names = None

    def get(self, name: str) -> E | None:
        if not isinstance(name, str):
            raise TypeError(f"expected a name (str), got {type(name).__name__}")
        if len(name) > MAX_NAME_CHARS:
            return None
        key = normalize(name)
        entry_id = self.names.get(key)
        if entry_id is None and len(self.hub.get(key, ())) == 1:
            (entry_id,) = self.hub[key]
        return self.by_id[entry_id] if entry_id is not None else None

    def candidates(self, name: str) -> tuple[str, ...]:
        """Ids a name that :meth:`get` does not resolve can only mean, sorted: the models linking
        this Hub path when several do, else the members of the series of this name. A series
        with one member in this catalog resolves to it (``"DALL-E"``: the one DALL·E model)."""
        if len(name) > MAX_NAME_CHARS:
            return ()
        key = normalize(name)
        if len(self.hub.get(key, ())) > 1:
            return tuple(sorted(self.hub[key]))
        return tuple(sorted(self.series.get(key, ())))

    def family(self, name: str) -> tuple[str, tuple[str, ...]] | None:
        """(family, member ids by size) when ``name`` is a family name several entries share: a series
        name with several members, or the common start of several ids of one series, ending at a
        hyphen ("Llama3-Med42": llama3-med42-8b and llama3-med42-70b). None otherwise."""
        if len(name) > MAX_NAME_CHARS:
            return None
        ids = self.series.get(normalize(name), set())
        if len(ids) < 2:
            slug = re.sub(r"[\s_]+", "-", unicodedata.normalize("NFKC", name).strip().casefold())
            ids = {i for i in self.by_id if i.startswith(slug + "-")} if len(slug) >= 3 else set()
        if len(ids) < 2 and cjk_runs(name):
            # A Chinese series name ("书生·浦语2.5") is the start of its members' Chinese names
            # followed by a size ("书生·浦语2.5-7B", "书生·浦语2.5-20B"; not "通义千问2.5-Math-7B", another
            # series); ids are ASCII, so the rule above cannot see it.
            if self._loose_names is None:  # every name and alias folded by _loose; built on the first use
                self._loose_names = [(_loose(n), i) for i, e in self.by_id.items() for n in _keys_raw(e)]
            key = _loose(name)
            ids = {i for k, i in self._loose_names if k.startswith(key) and k[len(key) : len(key) + 1].isdigit()}
        series = {getattr(self.by_id[i], "series", None) for i in ids}
        if len(ids) < 2 or len(series) != 1 or None in series:
            return None

        def size(mid: str) -> tuple[float, str]:
            return (name_parts(mid).size_b or math.inf, mid)

        return str(series.pop()), tuple(sorted(ids, key=size))

    def suggestions(self, name: str) -> tuple[str, ...]:
        if len(name) > MAX_NAME_CHARS:
            return ()
        if self.kind != "model":
            return suggest(name, self.names, self.names)
        if self._parts is None:  # every id, name and alias split at its size; built on the first miss
            self._parts = [part for e in self.by_id.values() for part in _name_parts(e)]
        return rank_names(name, self._parts)


# One size written as its own word, with the separator before it: "-7B", " 1.5b", "_70B".
_SIZE_WORD = re.compile(r"[-_\s]*(?<![\d.])\d{1,4}(?:\.\d{1,3})?[bB](?![A-Za-z0-9])")


#: Ollama library tags that are not the catalog's NAME-SIZE, by (normalised name, tag). Sources: the
#: library pages ollama.com/library/deepseek-r1 (the distills' tags; since 2025-05-28 "8b" is the
#: Qwen3-8B distill of R1-0528 and "671b" R1-0528 -- before, the Llama-8B distill and R1, the same
#: shapes but for the 8B: 8.03B), /phi3 ("mini" and "medium" are the 4k-context instruct models,
#: "-128k" the long ones) and /mistral (7b: Mistral-7B-Instruct v0.3 since 2024-05).
OLLAMA_TAGS: dict[tuple[str, str], str] = {
    ("deepseekr1", "1.5b"): "deepseek-r1-distill-qwen-1.5b",
    ("deepseekr1", "7b"): "deepseek-r1-distill-qwen-7b",
    ("deepseekr1", "8b"): "deepseek-r1-0528-qwen3-8b",
    ("deepseekr1", "14b"): "deepseek-r1-distill-qwen-14b",
    ("deepseekr1", "32b"): "deepseek-r1-distill-qwen-32b",
    ("deepseekr1", "70b"): "deepseek-r1-distill-llama-70b",
    ("deepseekr1", "671b"): "deepseek-r1-0528",
    ("phi3", "mini"): "phi-3-mini-4k-instruct",
    ("phi3", "3.8b"): "phi-3-mini-4k-instruct",
    ("phi3", "mini-128k"): "phi-3-mini-128k-instruct",
    ("phi3", "medium"): "phi-3-medium-4k-instruct",
    ("phi3", "14b"): "phi-3-medium-4k-instruct",
    ("phi3", "medium-128k"): "phi-3-medium-128k-instruct",
    ("mistral", "7b"): "mistral-7b-instruct-v0.3",
    # /deepseek-coder-v2 (16b: the Lite Instruct model; 236b: the Instruct), /yi (Yi-1.5 chat models
    # since 2024-05), /glm4 (9b: GLM-4-9B-Chat)
    ("deepseekcoderv2", "16b"): "deepseek-coder-v2-lite-instruct",
    ("deepseekcoderv2", "236b"): "deepseek-coder-v2-instruct",
    ("yi", "6b"): "yi-1.5-6b-chat",
    ("yi", "9b"): "yi-1.5-9b-chat",
    ("yi", "34b"): "yi-1.5-34b-chat",
    ("glm4", "9b"): "glm-4-9b-chat",
}
# The quantization and format suffix of an Ollama tag: "-q4_K_M", "-q8_0", "-fp16", "-instruct-q4_0".
_OLLAMA_QUANT = re.compile(
    r"-(?:instruct|chat|it)?-?(?:q\d\w*|qat|fp16|f16|bf16|fp32|int\d\w*)$|-(?:instruct|chat|it)$"
)


def _size_last(name: str) -> str | None:
    """``name`` with a size written first moved to the end ("72B Qwen2.5" -> "Qwen2.5-72B"); None when
    it does not start with one."""
    m = re.match(r"\s*(\d{1,4}(?:\.\d{1,3})?[bB])[\s\-_]+(\S.*)$", name) if len(name) <= MAX_NAME_CHARS else None
    if m is None or _SIZE_WORD.search(m.group(2)) or not re.search(r"[^\W\d_]", m.group(2)):
        return None  # one move at most: the rest holds no other size ("7b 7b 7b" is no name)
    return f"{m.group(2)}-{m.group(1)}"


# A word of a model name: an experts-by-size ("8x7b"), a size ("8b", "0.5b", "560m"), a version
# ("v0.3", "3.1"), or a run of letters ("llama" of "llama3.1").
_NAME_WORD = re.compile(
    r"\d+x\d+(?:\.\d+)?[bm](?![a-z])|\d+(?:\.\d+)?[bm](?![a-z])|v\d+(?:\.\d+)*|\d+(?:\.\d+)*|[a-z]+"
)


def _name_words(name: str) -> tuple[str, ...]:
    """The words of a model name, sorted: "Llama-3.1-8B-Instruct" and "instruct 8b llama3.1" both
    give ("3.1", "8b", "instruct", "llama")."""
    return tuple(sorted(_NAME_WORD.findall(unicodedata.normalize("NFKC", name).casefold())))


def _chinese_names(org: str) -> set[str]:
    """The Chinese names in an organisation's name, folded: its runs of Chinese characters and its
    parenthesised parts that hold some ("Shanghai AI Laboratory (上海AI实验室)": 上海, 实验室, 上海ai实验室)."""
    parts = re.findall(r"[(（]([^()（）]*)[)）]", org)
    return {*cjk_runs(org), *(normalize(p) for p in parts if cjk_runs(p))}


def _latin_words(text: str) -> tuple[str, ...]:
    """The Latin-letter and digit words of ``text``, case-folded ("Zhipu AI / THUDM" -> zhipu, ai, thudm);
    a hyphen joins ("meta-math" is one word: MetaMath's team is not Meta)."""
    words = re.split(r"[^0-9a-z\-]+", unicodedata.normalize("NFKC", text).casefold())
    return tuple(w.strip("-") for w in words if w.strip("-"))


def _has_words(words: tuple[str, ...], run: tuple[str, ...]) -> bool:
    """Whether ``run`` occurs in ``words`` as consecutive whole words."""
    n = len(run)
    return any(words[i : i + n] == run for i in range(len(words) - n + 1))


def _without_size(name: str) -> str | None:
    """``name`` without the one size word it holds ("Fin-R1-7B" -> "Fin-R1"); None when it holds
    none or several, or nothing else."""
    if len(name) > MAX_NAME_CHARS or len(_SIZE_WORD.findall(name)) != 1:
        return None
    rest = _SIZE_WORD.sub("", name).strip(" -_")
    return rest if re.search(r"[^\W\d_]", rest) else None


def _keys_raw(entry: Model | GPU | Tool) -> tuple[str, ...]:
    """The name and aliases of ``entry`` as written."""
    return (entry.name, *entry.aliases)


def _loose(name: str) -> str:
    """``name`` folded for a prefix match that keeps version dots: "通义千问2.5" is not a prefix of
    "通义千问2-57B" (:func:`normalize` drops the dot and would make it one)."""
    return re.sub(r"[\s_\-·・]+", "", unicodedata.normalize("NFKC", name).casefold())


# A memory size written as its own word: "12GB", "12 GB", "12G", "12GiB" (not "A10G").
_MEM_WORD = re.compile(r"(?<![^\W_])(\d+)\s*(?:gib|gb|g)(?![^\W_])")
# Words that name the vendor or the product line, not the card: "GeForce RTX 4090" is "4090".
_NOISE_WORDS = frozenset(
    {"nvidia", "geforce", "rtx", "tesla", "amd", "radeon", "instinct", "intel", "habana", "apple"}
    | {"英伟达", "辉达", "輝達"}  # NVIDIA's Chinese names
)
# Words a name may leave out without naming another product: the form factor and filler.
# ("Ti", "Super", "Max", "NVL", ... are not here: leaving them out names a different card.)
_OMITTABLE_WORDS = frozenset({"sxm", "pcie", "oam", "module", "gpu", "card", "edition", "workstation", "active"})


def _gpu_words(name: str) -> frozenset[str]:
    """The words of a GPU name, in no order: case, width and separators folded, memory sizes
    as ``"<n>gb"``, "SXM4"/"SXM5" as "sxm", a word glued to a model number split off
    (``"RTX3060"``, ``"4070Ti"``), vendor and product-line words (:data:`_NOISE_WORDS`) dropped."""
    text = _MEM_WORD.sub(r" \1gb ", unicodedata.normalize("NFKC", name).casefold())
    for run in set(cjk_runs(text)):  # "英伟达RTX 4090": a Chinese word is a word of its own
        text = text.replace(run, f" {run} ")
    words: set[str] = set()
    for word in re.split(r"[\W_]+", text):
        if re.fullmatch(r"\d+gb|sxm\d*", word):
            words.add("sxm" if word.startswith("sxm") else word)
            continue
        m = re.fullmatch(r"([^\W\d_]{3,})(\d.*)", word)  # "rtx3060" -> rtx 3060; "mi300x", "a100" stay
        if m:
            words.add(m.group(1))
            word = m.group(2)
        m = re.fullmatch(r"(\d+)([^\W\d_]{2,})", word)  # "4070ti" -> 4070 ti; "4090d" stays
        if m:
            words.update(m.groups())
        elif word:
            words.add(word)
    return frozenset(words - _NOISE_WORDS)


def _gpu_candidates(index: _Index[GPU], name: str) -> list[str]:
    """Ids of the GPUs ``name`` can mean, word order and separators aside.

    First the GPUs one of whose names has exactly these words (the card's own memory size may
    be added: "4090 24GB"); failing that, those with a name that holds every word typed and
    lacks only words that name no other product (:data:`_OMITTABLE_WORDS`, and the memory
    size). Sorted ids; empty when nothing fits. "RTX 3060 8GB" does not find "RTX 3060 Ti 8GB".
    """
    query = _gpu_words(name)
    if not query:
        return []
    exact: set[str] = set()
    loose: set[str] = set()
    for gpu in index.by_id.values():
        memory = f"{round(gpu.memory_bytes / 2**30)}gb"
        for words in (_gpu_words(n) for n in (gpu.id, gpu.name, *gpu.aliases)):
            if query in (words, words | {memory}):
                exact.add(gpu.id)
            elif query <= words | {memory} and words - query - {memory} <= _OMITTABLE_WORDS:
                loose.add(gpu.id)
    return sorted(exact or loose)


def _interned(models: dict[str, Model]) -> dict[str, Model]:
    """``models`` with equal architectures shared as one instance. Many entries repeat their base's
    architecture table (a chat model and its base); the calculus caches per architecture, and one
    instance per equal architecture turns those cache look-ups into identity hits."""
    seen: dict[Architecture, Architecture] = {}
    out = {}
    for mid, m in models.items():
        a = m.architecture
        if a is not None:
            shared = seen.setdefault(a, a)
            if shared is not a:
                m = attrs.evolve(m, architecture=shared)
        out[mid] = m
    return out


def _with_counts(m: Model, components: tuple[Component, ...]) -> Model:
    """``m`` with the language model's count filled into its component and, when it states
    none, ``n_params`` as the total of all components (language model from the architecture,
    plus every other component's published size); ``None`` when a component's size is unknown."""
    assert m.architecture is not None
    lm_params = count_params(m.architecture)
    filled = tuple(
        attrs.evolve(c, n_params=lm_params) if c.role == "language-model" and c.n_params is None else c
        for c in components
    )
    changes: dict[str, Any] = {}
    if filled != m.components:
        changes["components"] = filled
    if m.n_params is None:
        others = [c.n_params for c in filled if c.role != "language-model"]
        if all(n is not None for n in others):
            changes["n_params"] = lm_params + sum(n for n in others if n is not None)
    return attrs.evolve(m, **changes) if changes else m


def _size_sentence(notes: str | None) -> str | None:
    """The sentence after "Size:" in ``notes`` (the explanation of a name's size against the count)."""
    if not notes or "Size:" not in notes:
        return None
    text = notes[notes.index("Size:") + len("Size:") :].strip()
    end = re.search(r"\.(?:\s|$)", text)
    return (text[: end.start()] if end else text).strip() + "."


def _resolve_lineage(models: dict[str, Model]) -> tuple[dict[str, Model], list[str]]:
    """Fill inherited architectures (and parameter counts). Returns the models and any cycles
    found (models on a cycle keep what they have).

    A model without an architecture takes its base model's, unless ``architecture_differs``
    says why it does not have it (vocabulary extended, another size). A model without
    components of its own takes its base's too when it inherits the architecture (a fine-tuned
    VisualGLM-6B is VisualGLM-6B's vision encoder + ChatGLM-6B). ``n_params``, when not stated,
    is the total over the components (see :class:`~llmcatalog.Model`). A model that inherits a
    layout whose notes explain its size ("Size: ...": gemma-7b's 8.54B against "7B") gets that
    sentence in its notes too, named as inherited, unless it has its own.
    """
    resolved: dict[str, Model] = {}
    cycles: list[str] = []

    def resolve(mid: str, chain: tuple[str, ...]) -> Model | None:
        if mid in resolved:
            return resolved[mid]
        if mid in chain:
            cycles.append(" -> ".join((*chain[chain.index(mid) :], mid)))
            return None
        m = models[mid]
        parent = resolve(m.base_model, (*chain, mid)) if m.base_model in models else None
        components = m.components
        if (
            m.architecture is None
            and m.architecture_differs is None
            and parent is not None
            and parent.architecture is not None
        ):
            if not components and parent.components:
                components = parent.components
            source = parent.architecture_from or parent.id
            m = attrs.evolve(m, architecture=parent.architecture, architecture_from=source)
            why = _size_sentence(models[source].notes) if "Size:" not in (m.notes or "") else None
            if why:  # the size in the name against the count, explained where the layout comes from
                m = attrs.evolve(m, notes=f"{m.notes or ''} Size (as {source}, whose layout it carries): {why}".strip())
            if m.n_params is None and components == parent.components and parent.n_params is not None:
                m = attrs.evolve(m, n_params=parent.n_params)  # the same system as the base
        if m.architecture is not None:
            m = _with_counts(m, components)
        resolved[mid] = m
        return m

    for mid in models:
        resolve(mid, ())
    for mid in models:  # models whose chain was cut by a cycle
        resolved.setdefault(mid, models[mid])
    return resolved, cycles


def _refuse_blank(text: str) -> None:
    """QueryError for empty or whitespace-only search text: it has no word to match (a search for
    nothing), like text without letters or digits."""
    if not text.strip():
        raise QueryError(
            f"search text {text!r} is empty: give words of a model's name, organization or domain "
            "(`llmcatalog list models`, or Catalog.models in Python, lists every model)"
        )


class Catalog:
    """An immutable catalog. Use :func:`llmcatalog.catalog` for the one built from plugins,
    or :meth:`Catalog.from_entries` / :meth:`with_entries` to build your own.

    Adding entries never mutates a catalog: :meth:`with_entries` returns a new one.
    """

    def __init__(
        self,
        *,
        models: Iterable[Model] = (),
        gpus: Iterable[GPU] = (),
        tools: Iterable[Tool] = (),
        plugins: Iterable[PluginInfo] = (),
        errors: Iterable[PluginError] = (),
        _provider: str = "direct",
    ) -> None:
        self._models: _Index[Model] = _Index("model")
        self._gpus: _Index[GPU] = _Index("gpu")
        self._tools: _Index[Tool] = _Index("tool")
        self._plugins = tuple(plugins)
        self._errors = tuple(errors)
        self._add_checked(tuple(models), tuple(gpus), tuple(tools), _provider)
        self._finish()

    # -- construction -------------------------------------------------------------------
    def _add_checked(
        self, models: tuple[Model, ...], gpus: tuple[GPU, ...], tools: tuple[Tool, ...], provider: str
    ) -> None:
        problems = (
            self._models.conflicts(models, provider)
            + self._gpus.conflicts(gpus, provider)
            + self._tools.conflicts(tools, provider)
        )
        if problems:
            raise DuplicateEntryError("; ".join(problems))
        self._models.add(models, provider)
        self._gpus.add(gpus, provider)
        self._tools.add(tools, provider)

    def _finish(self, *, strict: bool = True) -> None:
        # The index keeps the entries as provided (conflicts are judged on those); look-ups
        # return the resolved ones (inherited architectures filled in).
        resolved, cycles = _resolve_lineage(_interned(self._models.by_id))
        if cycles and strict:
            raise CatalogDataError("lineage", [f"lineage: base_model cycle {c}" for c in cycles])
        self._lineage_cycles = tuple(cycles)
        self._resolved = resolved
        self._hay_cache: list[tuple[Model, str, str]] | None = None
        self._zh_names: dict[str, str] = {}
        self._pinyin_cache: dict[str, str] | None = None
        self._org_cache: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] | None = None
        self._hub_org_cache: dict[str, str] | None = None
        self._word_index: dict[tuple[str, ...], set[str]] | None = None
        self._children: dict[str, list[str]] = {}
        for m in resolved.values():
            if m.base_model:
                self._children.setdefault(m.base_model, []).append(m.id)

    @classmethod
    def _from_parts(
        cls,
        parts: list[tuple[str, tuple[Model, ...], tuple[GPU, ...], tuple[Tool, ...]]],
        plugins: Iterable[PluginInfo],
        errors: Iterable[PluginError],
        base: Catalog | None = None,
    ) -> Catalog:
        cat = cls.__new__(cls)
        if base is None:
            cat._models, cat._gpus, cat._tools = _Index("model"), _Index("gpu"), _Index("tool")
        else:
            cat._models, cat._gpus, cat._tools = base._models.copy(), base._gpus.copy(), base._tools.copy()
        cat._plugins, cat._errors = tuple(plugins), tuple(errors)
        for provider, models, gpus, tools in parts:
            cat._add_checked(models, gpus, tools, provider)
        cat._finish()
        return cat

    def with_entries(self, *entries: Model | GPU | Tool, provider: str = "with_entries") -> Catalog:
        """A new catalog with ``entries`` added; conflicting entries raise :class:`DuplicateEntryError`
        naming both providers. This catalog is not changed."""
        for e in entries:
            if not isinstance(e, (Model, GPU, Tool)):
                raise TypeError(f"expected Model, GPU or Tool entries, got {type(e).__name__}")
        part = (
            provider,
            tuple(e for e in entries if isinstance(e, Model)),
            tuple(e for e in entries if isinstance(e, GPU)),
            tuple(e for e in entries if isinstance(e, Tool)),
        )
        return Catalog._from_parts([part], self._plugins, self._errors, base=self)

    # -- incremental building (the registry) -----------------------------------------------
    def _try_add(
        self, models: tuple[Model, ...], gpus: tuple[GPU, ...], tools: tuple[Tool, ...], provider: str
    ) -> list[str]:
        """Add the entries unless they conflict; return the conflicts (nothing is added then).
        Call :meth:`_seal` once after the last addition."""
        problems = (
            self._models.conflicts(models, provider)
            + self._gpus.conflicts(gpus, provider)
            + self._tools.conflicts(tools, provider)
        )
        if not problems:
            self._models.add(models, provider)
            self._gpus.add(gpus, provider)
            self._tools.add(tools, provider)
        return problems

    def _seal(self, plugins: Iterable[PluginInfo], errors: Iterable[PluginError], *, strict: bool) -> None:
        self._plugins, self._errors = tuple(plugins), tuple(errors)
        self._finish(strict=strict)

    @property
    def lineage_cycles(self) -> tuple[str, ...]:
        """base_model cycles found while building (their models keep no inherited architecture)."""
        return self._lineage_cycles

    @classmethod
    def from_entries(cls, *entries: Model | GPU | Tool) -> Catalog:
        """A catalog of exactly ``entries`` (no plugins)."""
        return cls().with_entries(*entries, provider="from_entries")

    # -- collections --------------------------------------------------------------------
    @property
    def models(self) -> tuple[Model, ...]:
        """All models, sorted by id."""
        return tuple(sorted(self._resolved.values(), key=lambda m: m.id))

    @property
    def gpus(self) -> tuple[GPU, ...]:
        """All GPUs, sorted by id."""
        return tuple(sorted(self._gpus.by_id.values(), key=lambda g: g.id))

    @property
    def tools(self) -> tuple[Tool, ...]:
        """All tools, sorted by id."""
        return tuple(sorted(self._tools.by_id.values(), key=lambda t: t.id))

    @property
    def plugins(self) -> tuple[PluginInfo, ...]:
        """The entry points that contributed (empty for hand-built catalogs)."""
        return self._plugins

    @property
    def plugin_errors(self) -> tuple[PluginError, ...]:
        """Plugins that were skipped, with their distribution and the reason."""
        return self._errors

    @property
    def index(self) -> Mapping[str, str]:
        """Read-only view of normalised model name -> model id."""
        return MappingProxyType(self._models.names)

    def __len__(self) -> int:
        return len(self._models.by_id)

    def __iter__(self) -> Iterator[Model]:
        return iter(self.models)

    def __repr__(self) -> str:
        return (
            f"<Catalog: {len(self._models.by_id)} models, {len(self._gpus.by_id)} GPUs, "
            f"{len(self._tools.by_id)} tools, {len(self._errors)} plugin errors>"
        )

    # -- look-ups -----------------------------------------------------------------------
    def _lookup(self, index: _Index[E], name: str, error: Callable[[str, tuple[str, ...]], UnknownEntryError]) -> E:
        entry = index.get(name)
        if entry is None:
            raise error(name, index.suggestions(name))
        return entry

    def get_model(self, name: str | Model) -> Model:
        """The model with this id, name or alias; :class:`UnknownModelError` suggests close names.

        A Hugging Face (or ModelScope) repository path ("meta-llama/Meta-Llama-3-8B", any case)
        also resolves, through the models' hub links, when exactly one model links it; when
        several do, :class:`UnknownModelError` lists them all in ``suggestions``. A series name
        resolves when the catalog has one model of that series (``"DALL-E"`` is DALL·E 2, the
        only DALL·E here); a family name with several members (a series name, or the common start
        of several ids of one series: ``"Llama3-Med42"``) raises :class:`FamilyNameError` listing
        them. An alias that is also such a series name ("Llama 2", "Baichuan2": the survey's names for
        one entry) resolves to that entry with a :class:`~llmcatalog.SeriesNameWarning` listing the
        series, when its members differ in size. Otherwise the suggestions prefer the same family at
        the nearest size (``"Qwen3-9B"``: qwen3-8b first). With the ``chinese`` extra, traditional
        characters find simplified names (``"華佗"``).
        """
        if isinstance(name, Model):
            return name
        if isinstance(name, str) and ":" in name and "/" not in name and len(name) <= MAX_NAME_CHARS:
            tagged = self._ollama_model(name)  # "qwen2.5:72b", "deepseek-r1:7b": Ollama library tags
            if tagged is not None:
                return tagged
        hit = self._models.get(name) if isinstance(name, str) else None
        if hit is not None:
            if "/" not in name and normalize(name) not in (normalize(hit.id), normalize(hit.name)):
                named = self._series_named(name, hit)
                if named is not None:
                    warnings.warn(SeriesNameWarning(name, hit.id, *named), stacklevel=outside_stacklevel())
            return self._resolved[hit.id]
        if isinstance(name, str):
            folded = self._models.get(simplified(name)) if len(name) <= MAX_NAME_CHARS else None
            if folded is not None:  # "華佗" is "华佗" (with the chinese extra)
                return self._resolved[folded.id]
            english = english_name(simplified(name)) if len(name) <= MAX_NAME_CHARS else name
            if english != name:  # "通义千问2.5-7B" is Qwen2.5-7B; "书生·浦语2.5" the InternLM2.5 family
                found = self._model_as(name, english)
                if found is not None:
                    return found
            candidates = self._models.candidates(name)
            if len(candidates) == 1:
                return self._resolved[candidates[0]]
            family = self._models.family(name)
            if family is not None and (not candidates or set(candidates) == set(family[1])):
                raise FamilyNameError(name, *family, others=self._rest_of_series(*family))
            if candidates:
                raise UnknownModelError(name, candidates)
            sizeless = _without_size(name)
            if sizeless is not None:  # "Fin-R1-7B": the one Fin-R1, which has 7B parameters
                found = self._quietly(sizeless)
                size_b = name_parts(name).size_b
                n = found.n_params if found is not None else None
                if found is not None and n is not None and size_b and abs(n / 1e9 - size_b) <= 0.15 * size_b:
                    return found
            moved = _size_last(name)
            if moved is not None:  # "72B Qwen2.5" is Qwen2.5-72B
                found = self._model_as(name, moved)
                if found is not None:
                    return found
            reordered = self._by_words(name)
            if reordered is not None:  # "instruct 8b llama3.1", "qwen 7b 2.5 instruct": the words in any order
                return reordered
            rest = self._without_organization(name)
            if rest is not None:  # "智谱GLM-4-9B-Chat", "阿里Qwen2.5-7B": an organisation's name before the model's
                found = self._model_as(name, rest)
                if found is not None:
                    return found
            orgs, ids = self._organizations_named(name)
            if ids:
                members = sorted((self._resolved[i] for i in ids), key=lambda m: (-(m.n_params or 0), m.id))
                shown = orgs or tuple(sorted({m.organization or "?" for m in members}))
                raise OrganizationNameError(name, shown, tuple(m.id for m in members))
        return self._resolved[self._lookup(self._models, name, UnknownModelError).id]

    def _model_as(self, name: str, other: str) -> Model | None:
        """The model ``other`` (another spelling of ``name``) resolves to, None when it resolves to none.
        A family or a series warning is reported under ``name``, the name the caller typed."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                model = self.get_model(other)
            except FamilyNameError as e:
                raise FamilyNameError(name, e.family, e.suggestions, others=e.others) from None
            except UnknownModelError:
                return None
        for w in caught:
            message = w.message
            if isinstance(message, SeriesNameWarning):
                message = SeriesNameWarning(name, message.model_id, message.series, message.members)
            warnings.warn(message, stacklevel=outside_stacklevel())
        return model

    def _ollama_model(self, name: str) -> Model | None:
        """The model an Ollama library tag ("NAME:TAG") stands for, None when the tag is unknown.

        Tags of :data:`OLLAMA_TAGS` are read from the table; another "NAME:SIZE" (with an optional
        "-instruct"/"-chat" and quantization suffix, "7b-instruct-q4_K_M") is the catalog's
        NAME-SIZE, and when that is a base model with one instruct or chat model of the same series
        and count (within 1%), that one: the library's tags are the chat models unless they say "-text"."""
        base, _, tag = name.strip().partition(":")
        tag = tag.strip().casefold()
        if ":" in tag or not base.strip():
            return None
        mid = OLLAMA_TAGS.get((normalize(base), tag))
        if mid is not None:
            return self._resolved.get(mid)
        tag = _OLLAMA_QUANT.sub("", tag)
        text = tag.endswith("-text")
        tag = tag.removesuffix("-text")
        if not tag or re.match(r"(?:\d{1,3}x)?\d{1,4}(?:\.\d{1,3})?[bm](?![a-z0-9])", tag) is None:
            return None
        found = self._quietly(f"{base}-{tag}")
        if found is None and not text:  # "smollm2:135m": the catalog has only the instruct model
            found = self._quietly(f"{base}-{tag}-instruct") or self._quietly(f"{base}-{tag}-chat")
        if found is None or text or found.variant != "base" or found.n_params is None:
            return found
        size = found.n_params
        tuned = [
            m
            for m in self._resolved.values()
            if m.series is not None
            and m.series == found.series
            and m.variant in ("instruct", "chat")
            and m.n_params is not None
            and abs(m.n_params - size) <= 0.01 * size  # an instruct model may add tokens (Mixtral-8x22B: 32768)
            and m.base_model in (found.id, None)
            and m.organization == found.organization
        ]
        return tuned[0] if len(tuned) == 1 else found

    def _by_words(self, name: str) -> Model | None:
        """The one model with a name or alias of the same words as ``name`` in another order (words
        as :func:`_name_words` cuts them), None when none or several have them."""
        if len(name) > MAX_NAME_CHARS:
            return None
        words = _name_words(name)
        if len(words) < 2:
            return None
        if self._word_index is None:
            index: dict[tuple[str, ...], set[str]] = {}
            for m in self._resolved.values():
                for text in (m.id, m.name, *m.aliases):
                    if text.isascii():
                        index.setdefault(_name_words(text), set()).add(m.id)
            self._word_index = index
        ids = self._word_index.get(words, set())
        return self._resolved[next(iter(ids))] if len(ids) == 1 else None

    def _quietly(self, name: str) -> Model | None:
        """The model ``name`` resolves to without a warning or a family; None otherwise."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                model = self.get_model(name)
            except UnknownModelError:
                return None
        return None if caught else model

    def _rest_of_series(self, series: str, members: tuple[str, ...]) -> tuple[str, ...]:
        """The other members of ``series`` when a family name names only some of them ("Saul": the
        two Saul-7B models of the saullm series, which also has SaulLM-54B and -141B), by size."""
        rest = self._models.series.get(normalize(series), set()) - set(members)
        return tuple(sorted(rest, key=lambda m: (self._resolved[m].n_params or math.inf, m)))

    def _org_names(self) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
        """Per organisation: (its Latin words, its Chinese names, folded by :func:`normalize`). Its
        Chinese names are its runs of Chinese characters and the parenthesised names that hold some
        ("上海AI实验室"), and those of the organisation it is written as elsewhere: "DeepSeek AI" gets
        深度求索 from "DeepSeek (深度求索)", "THUDM / Zhipu AI" 智谱 from "Zhipu AI / THUDM (智谱AI)" -- the
        words before the parenthesis (up to a slash) of an organisation with a Chinese name, found as
        whole words."""
        if self._org_cache is None:
            orgs = {m.organization for m in self._resolved.values() if m.organization}
            words = {o: _latin_words(o) for o in orgs}
            own = {o: _chinese_names(o) for o in orgs}
            zh_by_head: dict[tuple[str, ...], set[str]] = {}
            for o in orgs:
                head = _latin_words(re.split(r"[(/（]", o, maxsplit=1)[0])
                if own[o] and head:
                    zh_by_head.setdefault(head, set()).update(own[o])
            self._org_cache = {
                o: (
                    words[o],
                    tuple(
                        sorted({*own[o], *(r for h, rs in zh_by_head.items() if _has_words(words[o], h) for r in rs)})
                    ),
                )
                for o in orgs
            }
        return self._org_cache

    def _hub_orgs(self) -> dict[str, str]:
        """Per model id: the Hub organisation of its repository link ("deepseek-ai", "qwen"), folded."""
        if self._hub_org_cache is None:
            found = {}
            for m in self._resolved.values():
                match = _HUB.match(m.links.hub or "") if m.links is not None else None
                if match:
                    found[m.id] = normalize(match.group(1).split("/")[0])
            self._hub_org_cache = found
        return self._hub_org_cache

    def _organizations_matching(self, text: str) -> tuple[str, ...]:
        """The organisations ``text`` names, sorted: Chinese text is part of one of their Chinese
        names (two characters at least: "面壁" of 面壁智能); other text is a run of whole words of their
        names ("Meta", "Zhipu AI"; three characters at least; "Meta" is not "MetaMath team")."""
        key = normalize(simplified(text))
        names = self._org_names()
        if cjk_runs(key):
            found = {o for o, (_, zh) in names.items() if len(key) >= 2 and any(key in name for name in zh)}
        else:
            wanted = _latin_words(text)
            found = {o for o, (w, _) in names.items() if len(key) >= 3 and wanted and _has_words(w, wanted)}
        return tuple(sorted(found))

    def _organization_members(self, text: str, *, loose: bool) -> tuple[tuple[str, ...], frozenset[str]]:
        """(organisations, model ids) ``text`` names: the models of :meth:`_organizations_matching` and
        those whose Hub repository is under an organisation of that name ("Qwen", "deepseek-ai"). A
        company's common Chinese name ("谷歌") is its English one (``ORGANIZATION_SYNONYMS``).
        ``loose``: text that names none that way matches organisations as a case-insensitive substring."""
        text = ORGANIZATION_SYNONYMS.get(normalize(simplified(text)), text)
        orgs = self._organizations_matching(text)
        key = normalize(simplified(text))
        hub = {mid for mid, org in self._hub_orgs().items() if len(key) >= 2 and org == key}
        if not orgs and not hub and loose:
            folded = text.strip().casefold()
            orgs = tuple(sorted(o for o in self._org_names() if folded in o.casefold()))
        members = {m.id for m in self._resolved.values() if m.organization in orgs} | hub
        return orgs, frozenset(members)

    def _organizations_named(self, name: str) -> tuple[tuple[str, ...], frozenset[str]]:
        """(organisations, model ids) ``name``, a model name that resolved to nothing, names: when it
        names no size, as :meth:`_organization_members` finds them without ``loose``."""
        if len(name) > MAX_NAME_CHARS or name_parts(name).size_b is not None:
            return (), frozenset()
        return self._organization_members(name, loose=False)

    def _without_organization(self, name: str) -> str | None:
        """``name`` without a leading Chinese organisation name when a model name follows it
        ("智谱GLM-4-9B-Chat" -> "GLM-4-9B-Chat"); None when it has none."""
        if len(name) > MAX_NAME_CHARS:
            return None
        text = simplified(name).strip()
        runs = cjk_runs(text)
        if not runs or not text.startswith(runs[0]) or len(runs[0]) < 2:
            return None
        rest = text[len(runs[0]) :].lstrip(" -_·")
        if not re.search(r"[A-Za-z]", rest):
            return None
        if any(name.startswith(runs[0]) for _, zh in self._org_names().values() for name in zh):
            return rest
        return None

    def _series_named(self, name: str, hit: Model) -> tuple[str, tuple[str, ...]] | None:
        """(series, members) when ``name``, an alias of ``hit``, also names other sizes of its series.

        It does when it is the series' name or the common start of several of its ids
        (:meth:`_Index.family`: "Llama 2"), a sizeless alias beside such a name ("华佗" beside
        "HuatuoGPT"), or when other members of the series carry names that
        start with it ("通义千问" of qwen-7b, with "通义千问-14B" on qwen-14b). Only members whose known
        size differs from ``hit``'s by more than 10% count: base and chat models of one size give one
        memory figure. None otherwise.
        """
        family = self._models.family(name)
        if family is None and name_parts(name).size_b is None:
            # "华佗" sits beside "HuatuoGPT" on huatuogpt-7b: a sizeless alias of an entry that also
            # carries the series' name is that name in another language.
            for other in hit.aliases:
                if name_parts(other).size_b is None and normalize(other) != normalize(name):
                    family = self._models.family(other)
                    if family is not None and hit.id in family[1]:
                        break
                    family = None
        if family is not None and hit.id in family[1]:
            series, members = family
        elif hit.series:
            key = normalize(name)
            series = hit.series
            same = self._models.series.get(normalize(series), set())
            members = tuple(
                m for m in sorted(same) if m == hit.id or any(k.startswith(key) for k in _keys(self._models.by_id[m]))
            )
        else:
            return None
        own = self._resolved[hit.id].n_params
        sizes = [n for m in members if m != hit.id and (n := self._resolved[m].n_params) is not None]
        if own is None or all(abs(n - own) <= 0.1 * own for n in sizes):  # unknown sizes are not "other sizes"
            return None
        return series, tuple(sorted(members, key=lambda m: (self._resolved[m].n_params or math.inf, m)))

    def get_gpu(self, name: str | GPU) -> GPU:
        """The GPU with this id, name or alias; :class:`UnknownGPUError` suggests close names.

        Word order, separators and "80G"/"80 GB" do not matter (``"SXM A100 80GB"`` is
        ``"A100 80GB SXM"``); the card's memory size may be added as a word (``"3060 12GB"``),
        and the form factor left out. A name that fits several GPUs (``"A100 PCIe"``: 40GB and
        80GB) raises :class:`UnknownGPUError` with every candidate in ``suggestions``, never
        picking a memory size on its own; a memory size no entry has finds nothing.
        """
        if isinstance(name, GPU):
            return name
        if isinstance(name, str) and len(name) <= MAX_NAME_CHARS and self._gpus.get(name) is None:
            if _SIZE_G.search(name) and self._gpus.get(_SIZE_G.sub(r"\1GB", name)) is not None:
                name = _SIZE_G.sub(r"\1GB", name)  # "A100 80G" is how many write "A100 80GB"
            else:
                candidates = _gpu_candidates(self._gpus, name)
                if len(candidates) == 1:
                    return self._gpus.by_id[candidates[0]]
                if candidates:
                    raise AmbiguousGPUError(name, tuple(candidates))
        return self._lookup(self._gpus, name, UnknownGPUError)

    def get_tool(self, name: str | Tool) -> Tool:
        """The tool with this id, name or alias; :class:`UnknownToolError` suggests close names."""
        if isinstance(name, Tool):
            return name
        return self._lookup(self._tools, name, UnknownToolError)

    # -- queries ------------------------------------------------------------------------
    def find_models(
        self,
        *,
        domain: str | None = None,
        subdomain: str | None = None,
        organization: str | None = None,
        language: str | None = None,
        modality: str | None = None,
        open_weights: bool | None = None,
        min_params: float | None = None,
        max_params: float | None = None,
        base_model: str | None = None,
        series: str | None = None,
        estimable: bool | None = None,
    ) -> tuple[Model, ...]:
        """Models matching every given criterion (``None`` = any).

        ``organization`` matches whole words of the organisation's name ("Meta" is not "MetaMath
        team") or part of its Chinese name, including the Chinese name it has where it is written
        with one ("深度求索" finds the models of "DeepSeek AI" too), else a case-insensitive
        substring; ``min_params``/``max_params``
        are parameter counts (``7e9``) and exclude models whose count is unknown;
        ``base_model`` matches direct children of that model (see :meth:`descendants`);
        ``estimable`` keeps models with (own or inherited) architecture and open weights.
        """
        for arg, value in (
            ("domain", domain),
            ("subdomain", subdomain),
            ("organization", organization),
            ("language", language),
            ("modality", modality),
            ("base_model", base_model),
            ("series", series),
        ):
            _check_str(value, arg, max_chars=MAX_NAME_CHARS)
        _check_flag(open_weights, "open_weights")
        _check_flag(estimable, "estimable")
        _check_count(min_params, "min_params")
        _check_count(max_params, "max_params")
        if min_params is not None and max_params is not None and min_params > max_params:
            raise QueryError(f"min_params={min_params:g} is larger than max_params={max_params:g}: nothing can match")
        models = self._resolved.values()
        if domain is not None:
            domains = {m.domain for m in models}
            if domain_id(domain) not in domains:
                subs = {s: m.domain for m in models for s in m.subdomains}
                if subdomain_id(domain) in subs:
                    raise QueryError(
                        f"domain={domain!r} is a sub-domain of {subs[subdomain_id(domain)]}, not a domain: "
                        f"use subdomain={domain!r} (CLI: --subdomain)"
                    )
            domain = self._known("domain", domain_id(domain), domains)
        if subdomain is not None:
            subdomain = self._known("subdomain", subdomain_id(subdomain), {s for m in models for s in m.subdomains})
        if language is not None:
            language = self._known("language", language_code(language), {x for m in models for x in m.languages})
        if modality is not None:
            modality = self._known("modality", modality, {m.modality for m in models})
        if series is not None:
            series = self._known("series", series, {m.series for m in models if m.series})
        base_id = self.get_model(base_model).id if base_model is not None else None
        org_ids = self._organization_members(organization, loose=True)[1] if organization is not None else None
        out = []
        for m in self.models:
            if domain is not None and m.domain != domain:
                continue
            if subdomain is not None and subdomain not in m.subdomains:
                continue
            if org_ids is not None and m.id not in org_ids:
                continue
            if language is not None and language not in m.languages:
                continue
            if modality is not None and m.modality != modality:
                continue
            if open_weights is not None and m.open_weights is not open_weights:
                continue
            if min_params is not None and (m.n_params is None or m.n_params < min_params):
                continue
            if max_params is not None and (m.n_params is None or m.n_params > max_params):
                continue
            if base_id is not None and m.base_model != base_id:
                continue
            if series is not None and m.series != series:
                continue
            if estimable is not None and (m.architecture is not None and m.open_weights is not False) != estimable:
                continue
            out.append(m)
        return tuple(out)

    @staticmethod
    def _known(arg: str, value: str, present: set[str]) -> str:
        """``value`` as spelled in the catalog (case-insensitive), or :class:`QueryError` with
        suggestions from the values ``present`` (an unknown filter value would silently match nothing)."""
        if value in present:
            return value
        folded = {p.casefold(): p for p in present}
        if value.strip().casefold() in folded:
            return folded[value.strip().casefold()]
        keys = {normalize(p): p for p in present}
        if normalize(value) in keys:  # "traditional chinese medicine" is traditional-chinese-medicine
            return keys[normalize(value)]
        hints = suggest(value, keys, keys)
        shown = repr(value) if len(value) <= 100 else f"{value[:100]!r}..."
        known = ", ".join(sorted(present)) if len(present) <= 50 else f"{len(present)} values"
        raise QueryError(f"{arg}={shown} matches no model in this catalog (known: {known}).", hints)

    def _haystacks(self) -> list[tuple[Model, str, str]]:
        """Per model: (model, case-folded text searched, normalised names); computed once.

        The text includes the Chinese names of the model's series: every run of Chinese
        characters in a member's name or aliases ("华佗" from "华佗GPT"), so a series is found
        by its Chinese name even through members whose own entry has none."""
        cached = self._hay_cache
        if cached is None:
            cached = []
            series_zh: dict[str, dict[str, None]] = {}
            for m in self.models:
                if m.series:
                    for text in (m.name, *m.aliases):
                        series_zh.setdefault(m.series, {}).update(dict.fromkeys(cjk_runs(text)))
            for m in self.models:
                zh = [*series_zh.get(m.series or "", ()), *(r for t in (m.name, *m.aliases) for r in cjk_runs(t))]
                if zh:
                    self._zh_names[m.id] = " ".join(dict.fromkeys(zh))
                hay_parts = [
                    m.id,
                    m.name,
                    *m.aliases,
                    m.organization or "",
                    *(self._org_names()[m.organization][1] if m.organization else ()),
                    m.domain,
                    *m.subdomains,
                    m.description or "",
                    m.description_zh or "",
                    m.series or "",
                    *series_zh.get(m.series or "", ()),
                    m.modality,
                ]
                hay = " ".join(hay_parts).casefold()
                cached.append((m, hay, normalize(" ".join([m.id, m.name, *m.aliases]))))
            self._hay_cache = cached
        return cached

    def _pinyin(self) -> dict[str, str]:
        """Per model id: the pinyin of its (and its series') Chinese names, built on first need
        (importing pypinyin takes ~0.15 s); empty without the ``chinese`` extra."""
        if self._pinyin_cache is None:
            self._haystacks()
            self._pinyin_cache = {mid: " ".join(pinyin(zh)) for mid, zh in self._zh_names.items()}
        return self._pinyin_cache

    def search(self, text: str, *, limit: int | None = None) -> tuple[Model, ...]:
        """Models whose id, name, aliases, organization, domain, subdomains, series (with its
        Chinese names) or descriptions contain every word of ``text`` (case-insensitive; names
        also match with punctuation ignored). A word that names a domain or a language
        (``"医疗"``, ``"law"``, ``"中文"``: see :data:`~llmcatalog.registry.names.DOMAIN_SYNONYMS`
        and ``LANGUAGE_SYNONYMS``) also matches every model of that domain or language, and one that
        names a sub-domain (``"中医"``, ``"TCM"``: ``SUBDOMAIN_SYNONYMS``) every model of that sub-domain. With the
        ``chinese`` extra, traditional characters match simplified ones ("華佗" is "华佗"), and a
        pinyin word that appears in no model's text matches the pinyin of Chinese names
        ("bencao" finds 本草).
        Exact name matches come first. ``limit`` (an int >= 0) keeps the first that many.

        ``text`` longer than :data:`MAX_SEARCH_CHARS` raises :class:`QueryError` (bounded work), and so
        does text with no letter or digit (``"(((("``, ``".*"``): the text is matched as text, not a pattern;
        empty or blank text too (there is no word to match: ``list_models`` lists everything)."""
        _check_str(text, "text", optional=False)
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
            raise TypeError(f"limit= must be an int >= 0 or None, got {type(limit).__name__}")
        if limit is not None and limit < 0:
            raise QueryError(f"limit={limit} is negative: give the number of results to keep (>= 0) or None")
        if len(text) > MAX_SEARCH_CHARS:
            raise QueryError(
                f"text= is {len(text):,} characters; search text is limited to {MAX_SEARCH_CHARS:,} "
                "(search for a few words)"
            )
        _refuse_blank(text)
        if not any(ch.isalnum() for ch in text):
            # The text is matched as text, never as a pattern: "((((" or ".*" has nothing to match on.
            raise QueryError(
                f"search text {text!r} has no letters or digits; search for words of a model's name, "
                "organization or domain (the text is matched literally, not as a regular expression)"
            )
        text = simplified(text)
        # Each distinct word once, longest first (long words are rare: a non-match is found early).
        words = sorted(dict.fromkeys(w for w in text.casefold().split() if w), key=len, reverse=True)
        if not words:
            return ()
        norms = [normalize(w) for w in words]
        domains = [domain_id(w) for w in words]
        subdomains = [subdomain_id(w) for w in words]
        languages = [language_code(w) for w in words]
        exact = self._models.get(text)
        haystacks = self._haystacks()
        # Pinyin only for a pinyin-shaped word found in no text (the import is slow; see _pinyin).
        pinyins: list[str | None] = [
            w if w.isascii() and looks_like_pinyin(w) and not any(w in hay for _, hay, _ in haystacks) else None
            for w in words
        ]
        by_pinyin = self._pinyin() if any(pinyins) else {}
        scored = []
        for m, hay, hay_norm in haystacks:
            if all(
                w in hay
                or (n and n in hay_norm)  # a word of punctuation only ("(((") matches as itself
                or d == m.domain
                or sub in m.subdomains
                or lang in m.languages
                or (p is not None and p in by_pinyin.get(m.id, ""))
                for w, n, d, sub, lang, p in zip(words, norms, domains, subdomains, languages, pinyins, strict=True)
            ):
                name_hit = any(n and n in hay_norm for n in norms)
                scored.append((0 if m is exact else 1 if name_hit else 2, m.id, m))
        scored.sort(key=lambda t: (t[0], t[1]))
        result = tuple(m for _, _, m in scored)
        return result[:limit] if limit is not None else result

    def search_tools(self, text: str) -> tuple[Tool, ...]:
        """Tools whose name, aliases, category or descriptions contain every word of ``text``
        (at most :data:`MAX_SEARCH_CHARS` characters, else :class:`QueryError`)."""
        _check_str(text, "text", optional=False)
        if len(text) > MAX_SEARCH_CHARS:
            raise QueryError(f"text= is {len(text):,} characters; search text is limited to {MAX_SEARCH_CHARS:,}")
        _refuse_blank(text)
        words = list(dict.fromkeys(w for w in text.casefold().split() if w))
        out = []
        for t in self.tools:
            hay = " ".join(
                [t.id, t.name, *t.aliases, t.category, t.description or "", t.description_zh or ""]
            ).casefold()
            if words and all(w in hay for w in words):
                out.append(t)
        return tuple(out)

    def ancestors(self, model: str | Model) -> tuple[Model, ...]:
        """What ``model`` is built on: its base model, that model's base, ... (nearest first).
        Bases that are not in this catalog end the chain."""
        m = self.get_model(model)
        chain = []
        while m.base_model and m.base_model in self._resolved:
            m = self._resolved[m.base_model]
            chain.append(m)
        return tuple(chain)

    def descendants(self, model: str | Model, *, recursive: bool = True) -> tuple[Model, ...]:
        """What is built on ``model``: models whose ``base_model`` is it (and theirs, if recursive)."""
        root = self.get_model(model).id
        out: list[Model] = []
        todo = list(self._children.get(root, ()))
        while todo:
            mid = todo.pop(0)
            out.append(self._resolved[mid])
            if recursive:
                todo.extend(self._children.get(mid, ()))
        return tuple(sorted(out, key=lambda m: m.id))

    def figures(self) -> tuple[tuple[Model, PublishedFigure], ...]:
        """Every published hardware figure with its model."""
        return tuple((m, f) for m in self.models for f in m.figures)

    def domains(self) -> dict[str, int]:
        """Model count per domain."""
        counts: dict[str, int] = {}
        for m in self._resolved.values():
            counts[m.domain] = counts.get(m.domain, 0) + 1
        return dict(sorted(counts.items()))
