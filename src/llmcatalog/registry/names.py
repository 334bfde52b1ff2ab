"""Name normalisation and fuzzy suggestions for look-ups.

A reader types "Llama 2 7B", "llama-2-7b", "LLaMA2-7B" or "本草": all must find the entry.
``normalize`` folds case and width (NFKC), and drops whitespace and punctuation, so those
spellings collapse to one key; CJK characters are kept as they are.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable

__all__ = ["normalize", "suggest"]

# Everything that is not a letter or digit in any script (after NFKC) is dropped.
_DROP = re.compile(r"[\W_]+", re.UNICODE)


def normalize(name: str) -> str:
    """Return the look-up key of ``name``: NFKC, case-folded, without spaces or punctuation.

    >>> normalize("Llama-2 7B")
    'llama27b'
    >>> normalize("BenTsao (本草)")
    'bentsao本草'
    """
    return _DROP.sub("", unicodedata.normalize("NFKC", name).casefold())


def suggest(name: str, keys: Iterable[str], display: dict[str, str], n: int = 5) -> tuple[str, ...]:
    """Up to ``n`` display names whose keys are close to ``normalize(name)``.

    ``display`` maps each key to the name to show (usually the entry id). Substring
    matches come first (typing "qwen" should offer the Qwen models), then difflib matches.
    """
    key = normalize(name)
    if not key:
        return ()
    keys = list(keys)
    out: list[str] = []
    if len(key) >= 3:
        out.extend(display[k] for k in sorted(keys, key=len) if key in k)
    out.extend(display[k] for k in difflib.get_close_matches(key, keys, n=n, cutoff=0.6))
    seen: dict[str, None] = {}
    for item in out:
        seen.setdefault(item)
    return tuple(seen)[:n]
