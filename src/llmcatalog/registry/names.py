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

__all__ = ["LANGUAGE_SYNONYMS", "MAX_SUGGEST_CHARS", "language_code", "normalize", "suggest"]

#: Longest key (after :func:`normalize`) that gets fuzzy suggestions. Catalog names are far
#: shorter; difflib's ratio is quadratic, so a 100,000-character name gets no suggestions.
MAX_SUGGEST_CHARS = 100

#: Common names of the languages catalog entries list, by their ISO 639-1 code. Filters accept
#: these as well as the code itself (``language="chinese"`` or ``"中文"`` means ``"zh"``).
#: Keys are matched after :func:`normalize` (case, width and punctuation are ignored).
LANGUAGE_SYNONYMS: dict[str, str] = {
    "chinese": "zh",
    "mandarin": "zh",
    "中文": "zh",
    "汉语": "zh",
    "漢語": "zh",
    "zhcn": "zh",
    "zhhans": "zh",
    "zhtw": "zh",
    "zhhant": "zh",
    "english": "en",
    "英文": "en",
    "英语": "en",
    "enus": "en",
    "engb": "en",
    "french": "fr",
    "français": "fr",
    "francais": "fr",
    "german": "de",
    "deutsch": "de",
    "spanish": "es",
    "español": "es",
    "espanol": "es",
    "japanese": "ja",
    "日本語": "ja",
    "korean": "ko",
    "한국어": "ko",
    "russian": "ru",
    "arabic": "ar",
}

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


def language_code(name: str) -> str:
    """The ISO 639-1 code for ``name`` if it is a known language name (see
    :data:`LANGUAGE_SYNONYMS`), else ``name`` folded to lower case.

    >>> language_code("Chinese"), language_code("中文"), language_code("zh-CN"), language_code("EN")
    ('zh', 'zh', 'zh', 'en')
    """
    return LANGUAGE_SYNONYMS.get(normalize(name), name.strip().casefold())


def suggest(name: str, keys: Iterable[str], display: dict[str, str], n: int = 5) -> tuple[str, ...]:
    """Up to ``n`` display names whose keys are close to ``normalize(name)``.

    ``display`` maps each key to the name to show (usually the entry id). Substring
    matches come first (typing "qwen" should offer the Qwen models), then difflib matches.
    """
    key = normalize(name)
    if not key or len(key) > MAX_SUGGEST_CHARS:
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
