"""Name normalisation and fuzzy suggestions for look-ups.

A reader types "Llama 2 7B", "llama-2-7b", "LLaMA2-7B" or "本草": all must find the entry.
``normalize`` folds case and width (NFKC), and drops whitespace and punctuation, so those
spellings collapse to one key; CJK characters are kept as they are.

A name that finds nothing gets suggestions ranked by what people mean when they mistype one:
the same family first, then the closest size, then the closest spelling (:func:`rank_names`:
"Qwen3-9B" offers qwen3-8b, not qwen-1_8b). Filters and search also accept the common English
and Chinese names of domains and languages (:data:`DOMAIN_SYNONYMS`, :data:`LANGUAGE_SYNONYMS`).
"""

from __future__ import annotations

import difflib
import functools
import importlib
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

__all__ = [
    "CHINESE_NAME_WORDS",
    "DOMAIN_SYNONYMS",
    "LANGUAGE_SYNONYMS",
    "MAX_SUGGEST_CHARS",
    "ORGANIZATION_SYNONYMS",
    "PINYIN_NAME_WORDS",
    "SUBDOMAIN_SYNONYMS",
    "NameParts",
    "cjk_runs",
    "domain_id",
    "english_name",
    "language_code",
    "looks_like_pinyin",
    "name_parts",
    "normalize",
    "pinyin",
    "rank_names",
    "simplified",
    "subdomain_id",
    "suggest",
]

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

#: Common English and Chinese names of the catalog's domains, by domain id (the ``domain`` of
#: the entries, one per folder of ``registry/data/``). ``find_models(domain=...)`` and
#: :meth:`~llmcatalog.Catalog.search` accept these as well as the id itself. Keys are matched
#: after :func:`normalize`; every built-in domain has at least one Chinese name here (tested).
DOMAIN_SYNONYMS: dict[str, str] = {
    # general
    "通用": "general",
    "通用大模型": "general",
    # medical
    "医疗": "medical",
    "医学": "medical",
    "医药": "medical",
    "医疗健康": "medical",
    "醫療": "medical",
    "醫學": "medical",
    "medicine": "medical",
    "healthcare": "medical",
    "health": "medical",
    # finance
    "金融": "finance",
    "财经": "finance",
    "財經": "finance",
    "financial": "finance",
    # legal
    "法律": "legal",
    "司法": "legal",
    "律师": "legal",
    "律師": "legal",
    "法务": "legal",
    "法學": "legal",
    "法学": "legal",
    "law": "legal",
    "lawyer": "legal",
    # code
    "代码": "code",
    "編程": "code",
    "编程": "code",
    "程式": "code",
    "代碼": "code",
    "programming": "code",
    "coding": "code",
    # education
    "教育": "education",
    # math
    "数学": "math",
    "數學": "math",
    "maths": "math",
    "mathematics": "math",
    # science
    "科学": "science",
    "科學": "science",
    # sci-tech
    "科技": "sci-tech",
    "scitech": "sci-tech",
    # agriculture
    "农业": "agriculture",
    "農業": "agriculture",
    # media
    "媒体": "media",
    "传媒": "media",
    "媒體": "media",
    "傳媒": "media",
    # e-commerce
    "电商": "e-commerce",
    "电子商务": "e-commerce",
    "電商": "e-commerce",
    "電子商務": "e-commerce",
    # cybersecurity
    "网络安全": "cybersecurity",
    "網絡安全": "cybersecurity",
    "安全": "cybersecurity",
    "security": "cybersecurity",
    # transport
    "交通": "transport",
    "transportation": "transport",
    # story-generation
    "故事生成": "story-generation",
    "小说": "story-generation",
    # music-generation
    "音乐生成": "music-generation",
    "音乐": "music-generation",
    "音樂": "music-generation",
    "music": "music-generation",
    # evaluation
    "评测": "evaluation",
    "评估": "evaluation",
    "評測": "evaluation",
    # devops
    "运维": "devops",
    "運維": "devops",
    # public-opinion
    "舆情": "public-opinion",
    "輿情": "public-opinion",
    # pinyin of the Chinese names above (a bonus for readers without a Chinese keyboard)
    "yiliao": "medical",
    "yixue": "medical",
    "jinrong": "finance",
    "falv": "legal",
    "falü": "legal",
    "daima": "code",
    "biancheng": "code",
    "jiaoyu": "education",
    "shuxue": "math",
    "kexue": "science",
    "nongye": "agriculture",
    # multimodal
    "多模态": "multimodal",
    "多模態": "multimodal",
    # diffusion
    "扩散模型": "diffusion",
    "擴散模型": "diffusion",
    "扩散": "diffusion",
    # audio
    "音频": "audio",
    "音頻": "audio",
    "语音": "audio",
    "語音": "audio",
}

#: Common Chinese and English names of the catalog's sub-domains, by sub-domain id (the
#: ``subdomains`` of the entries). ``find_models(subdomain=...)`` and search accept these as well
#: as the id itself; keys are matched after :func:`normalize`.
SUBDOMAIN_SYNONYMS: dict[str, str] = {
    "中医": "traditional-chinese-medicine",
    "中医药": "traditional-chinese-medicine",
    "中醫": "traditional-chinese-medicine",
    "中醫藥": "traditional-chinese-medicine",
    "传统医学": "traditional-chinese-medicine",
    "tcm": "traditional-chinese-medicine",
    "traditionalchinesemedicine": "traditional-chinese-medicine",
    "chinesemedicine": "traditional-chinese-medicine",
    "zhongyi": "traditional-chinese-medicine",
}

#: Common Chinese names of companies whose catalog entries carry only the English name, by that
#: name (keys matched after :func:`normalize`): organisation filters and look-ups accept them.
ORGANIZATION_SYNONYMS: dict[str, str] = {
    "谷歌": "Google",
    "微软": "Microsoft",
    "微軟": "Microsoft",
    "阿里巴巴": "Alibaba",
    "英伟达": "NVIDIA",
    "輝達": "NVIDIA",
    "字节跳动": "ByteDance",
    "字节": "ByteDance",
    "苹果": "Apple",
    "华为": "Huawei",
    "脸书": "Meta",
}

#: Chinese words used in model names, by the English word the models' own names use: the
#: brand of a series ("通义千问2.5-7B" is Qwen2.5-7B, "书生·浦语2.5" is InternLM2.5) and words of
#: a name ("DeepSeek-R1-蒸馏-Qwen-7B" is DeepSeek-R1-Distill-Qwen-7B). The names are the ones the
#: organisations use on their own pages (Qwen: 通义千问 / 千问; InternLM: 书生·浦语; ERNIE: 文心;
#: Tencent: 混元; Baichuan: 百川; DeepSeek: 深度求索). :func:`english_name` applies them; keys are
#: matched after NFKC without spaces and middle dots, longest first.
CHINESE_NAME_WORDS: dict[str, str] = {
    "通义千问": "Qwen",
    "通義千問": "Qwen",
    "千问": "Qwen",
    "千問": "Qwen",
    "书生浦语": "InternLM",
    "書生浦語": "InternLM",
    "浦语": "InternLM",
    "文心大模型": "ERNIE",
    "文心一言": "ERNIE",
    "文心": "ERNIE",
    "腾讯混元": "Hunyuan",
    "騰訊混元": "Hunyuan",
    "混元": "Hunyuan",
    "百川": "Baichuan",
    "深度求索": "DeepSeek",
    "蒸馏": "Distill",
    "蒸餾": "Distill",
}
_NAME_WORDS = re.compile("|".join(sorted(map(re.escape, CHINESE_NAME_WORDS), key=len, reverse=True)))
#: The same brands in pinyin, at the start of a name ("qianwen2.5-7b" is Qwen2.5-7B).
PINYIN_NAME_WORDS: dict[str, str] = {
    "tongyiqianwen": "Qwen",
    "qianwen": "Qwen",
    "shushengpuyu": "InternLM",
    "wenxin": "ERNIE",
    "shenduqiusuo": "DeepSeek",
}
_PINYIN_START = re.compile(
    "(" + "|".join(sorted((r"[\s_-]?".join(w) for w in PINYIN_NAME_WORDS), key=len, reverse=True)) + r")(?![a-z])",
    re.IGNORECASE,
)


def english_name(name: str) -> str:
    """``name`` with the Chinese words of :data:`CHINESE_NAME_WORDS` replaced by the English
    words the models' own names use; ``name`` unchanged when it has none.

    >>> english_name("通义千问2.5-7B"), english_name("书生·浦语2.5"), english_name("DeepSeek-R1-蒸馏-Qwen-7B")
    ('Qwen2.5-7B', 'InternLM2.5', 'DeepSeek-R1-Distill-Qwen-7B')
    """
    if not _CJK.search(name):
        m = _PINYIN_START.match(name.strip())
        if m is None:
            return name
        return PINYIN_NAME_WORDS[re.sub(r"[\s_-]", "", m.group(1)).casefold()] + name.strip()[m.end() :]
    # Middle dots and spaces inside a Chinese word go ("书生·浦语", "书生 浦语"); others stay ("千问 2.5 7B").
    folded = re.sub(r"(?<=[\u3400-\u9fff])[\s·・]+(?=[\u3400-\u9fff])", "", unicodedata.normalize("NFKC", name))
    return _NAME_WORDS.sub(lambda m: CHINESE_NAME_WORDS[m.group(0)], folded)


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
    return LANGUAGE_SYNONYMS.get(normalize(simplified(name)), name.strip().casefold())


def domain_id(name: str) -> str:
    """The domain id ``name`` stands for if it is a known domain name (see
    :data:`DOMAIN_SYNONYMS`), else ``name`` unchanged.

    >>> domain_id("医疗"), domain_id("Law"), domain_id("medical")
    ('medical', 'legal', 'medical')
    """
    return DOMAIN_SYNONYMS.get(normalize(simplified(name)), name)


def subdomain_id(name: str) -> str:
    """The sub-domain id ``name`` stands for if it is a known sub-domain name (see
    :data:`SUBDOMAIN_SYNONYMS`), else ``name`` unchanged.

    >>> subdomain_id("中医"), subdomain_id("TCM"), subdomain_id("oncology")
    ('traditional-chinese-medicine', 'traditional-chinese-medicine', 'oncology')
    """
    return SUBDOMAIN_SYNONYMS.get(normalize(simplified(name)), name)


_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]+")


def cjk_runs(text: str) -> list[str]:
    """The runs of Chinese characters in ``text`` ("华佗GPT-o1-7B" -> ["华佗"]).

    >>> cjk_runs("华佗GPT-o1-7B"), cjk_runs("BenTsao (本草)")
    (['华佗'], ['本草'])
    """
    return _CJK.findall(text)


@functools.cache
def _t2s() -> Callable[[str], str] | None:
    try:
        opencc = importlib.import_module("opencc")
    except ImportError:
        return None
    convert: Callable[[str], str] = opencc.OpenCC("t2s").convert
    return convert


@functools.cache
def _to_pinyin() -> Callable[[str], list[str]] | None:
    try:
        pypinyin = importlib.import_module("pypinyin")
    except ImportError:
        return None
    lazy: Callable[[str], list[str]] = pypinyin.lazy_pinyin
    return lazy


def simplified(text: str) -> str:
    """``text`` with traditional Chinese characters folded to simplified ones ("華佗" -> "华佗")
    when the ``chinese`` extra is installed (OpenCC's ``t2s`` tables through
    ``opencc-python-reimplemented``); ``text`` unchanged without it or without Chinese."""
    if not _CJK.search(text):
        return text
    convert = _t2s()
    return convert(text) if convert is not None else text


def pinyin(text: str) -> list[str]:
    """The toneless pinyin of each run of Chinese characters in ``text`` ("华佗GPT" ->
    ["huatuo"]) when the ``chinese`` extra is installed (``pypinyin``); empty without it."""
    to_pinyin = _to_pinyin()
    if to_pinyin is None:
        return []
    return ["".join(to_pinyin(run)) for run in cjk_runs(text)]


# One toneless pinyin syllable: an optional initial and a final (Table of Hanyu Pinyin finals;
# "v" stands for ü). Only a gate: words of another shape never load pypinyin.
_SYLLABLE = (
    r"(?:zh|ch|sh|[bpmfdtnlgkhjqxrzcsyw])?"
    r"(?:iang|iong|uang|ueng|ang|eng|ing|ong|ian|iao|uai|uan|van|ai|ao|an|ei|en|er|ia|ie|in|iu|ou|ua|uo|ui|un"
    r"|ue|ve|a|e|i|o|u|v)"
)
_PINYIN_WORD = re.compile(f"(?:{_SYLLABLE}){{1,12}}")


def looks_like_pinyin(word: str) -> bool:
    """Whether ``word`` can be toneless pinyin of 1 to 12 syllables ("bencao", "huatuo"; not "llama").

    >>> looks_like_pinyin("bencao"), looks_like_pinyin("llama"), looks_like_pinyin("7b")
    (True, False, False)
    """
    return len(word) <= 80 and _PINYIN_WORD.fullmatch(word) is not None


class NameParts(NamedTuple):
    """A model name split where its size is written: ``"Qwen2.5-7B-Instruct"`` is family
    ``"qwen25"``, size 7 (billions), tail ``"instruct"``; a name without a size has only a family."""

    key: str
    family: str
    size_b: float | None
    tail: str


# A size written as its own number: "7b", "1.5B", "1_8b" (1.8B), "560m", "8x7b" (experts x size).
# "(?<![\d.])" anchors the number at its start (no quadratic retries on long digit runs); a letter
# may precede it ("llama7b"); "a3b" in "30b-a3b" comes after the first size and is not read.
_SIZE = re.compile(r"(?<![\d.])(?:(\d{1,3})x)?(\d{1,4}(?:[._]\d{1,3})?)([bm])(?![^\W\d_])")


def name_parts(name: str) -> NameParts:
    """Split ``name`` into family, size in billions and tail (see :class:`NameParts`).

    >>> name_parts("Qwen3-8B")
    NameParts(key='qwen38b', family='qwen3', size_b=8.0, tail='')
    >>> name_parts("qwen-1_8b-chat").size_b, name_parts("Mixtral-8x7B").size_b, name_parts("bloom-560m").size_b
    (1.8, 56.0, 0.56)
    """
    folded = unicodedata.normalize("NFKC", name).casefold()
    key = normalize(folded)
    m = _SIZE.search(folded) if len(key) <= MAX_SUGGEST_CHARS else None
    if m is None:
        return NameParts(key, key, None, "")
    size = float(m.group(2).replace("_", "."))
    if m.group(1):
        size *= int(m.group(1))
    if m.group(3) == "m":
        size /= 1000
    return NameParts(key, normalize(folded[: m.start()]), size, normalize(folded[m.end() :]))


#: Weight of a family that is only alike (qwen2.5 for qwen3): the same family at a near size
#: ranks above a related family at the exact size (glm-4-9b before glm-10b for "GLM-4-10B").
_OTHER_FAMILY = 0.8


class _Similar:
    """difflib ratios against one fixed string, with the cheap upper bounds tried first.

    ``SequenceMatcher`` indexes its second sequence once; ``at_least`` returns 0.0 without the
    full (quadratic) comparison when even the upper bounds fall below ``floor``."""

    def __init__(self, fixed: str) -> None:
        self.fixed = fixed
        self._matcher = difflib.SequenceMatcher(None, "", fixed, autojunk=False)
        self._cache: dict[str, float] = {}

    def at_least(self, other: str, floor: float) -> float:
        if other == self.fixed:
            return 1.0
        cached = self._cache.get(other)
        if cached is not None:
            return cached
        m = self._matcher
        m.set_seq1(other)
        if m.real_quick_ratio() < floor or m.quick_ratio() < floor:
            return 0.0
        value = self._cache[other] = m.ratio()
        return value


#: Family similarity lost per version between two generations of one line, in place of the spelling's:
#: for "Qwen3", Qwen2.5 (0.5 versions apart) is 0.95 and Qwen (1) 0.8, before the 0.8 of a related family.
_GENERATION_STEP = 0.1
# A line's letters and its version: "qwen2.5-7b" (qwen, 2.5), "DeepSeek-V3" (deepseek, 3), "llama-7b"
# (llama, 1: a number followed by b/m/x is a size, and no version is the first generation).
_GENERATION = re.compile(r"([a-z]{3,})[-_ ]?(?:v(?=\d))?(?:(\d{1,2}(?:\.\d)?)(?![\d.]*[bmx]\b|\d))?")


def _generation(name: str, family: str) -> tuple[str, float] | None:
    """(line, version) of a model name whose family (:class:`NameParts`) is just a line and its
    version ("qwen2.5-7b", "qwen-7b"); None for others ("deepseek-r1-distill-qwen-7b": the version
    does not name that family) and names that start with no word of three letters."""
    m = _GENERATION.match(unicodedata.normalize("NFKC", name).casefold())
    if m is None or normalize(m.group(0)) != family:
        return None
    return m.group(1), float(m.group(2)) if m.group(2) else 1.0


def rank_names(name: str, candidates: Sequence[tuple[NameParts, str]], n: int = 5) -> tuple[str, ...]:
    """Up to ``n`` distinct display names from ``candidates`` (``(parts, display)`` pairs, several
    per entry allowed) that ``name`` most likely meant, best first.

    A name with a size ("Qwen3-9B") is scored as 0.5 x family similarity + 0.3 x size closeness
    + 0.2 x spelling similarity, a family that is only alike counting 0.8 x its similarity: the
    same family at the nearest size comes first (qwen3-8b), then the family's other sizes and
    related families at that size (qwen2.5-7b). Size closeness is
    ``1 / (1 + 3 |ln(size / wanted)|)`` (sizes on a log scale: 8B is as near 9B
    as 80B is to 90B). Families less than half alike are not offered; a name without a size,
    or with nothing close, is ranked by :func:`suggest` (substrings first). Similarities are
    difflib ratios (0..1). Names longer than :data:`MAX_SUGGEST_CHARS` get none.
    """
    query = name_parts(name)
    if not query.key or len(query.key) > MAX_SUGGEST_CHARS:
        return ()
    out: tuple[str, ...] = ()
    if query.size_b is not None and query.size_b > 0:
        wanted = math.log(query.size_b)
        family_like, key_like = _Similar(query.family), _Similar(query.key)
        best: dict[str, float] = {}
        query_generation = _generation(name, query.family)
        for parts, display in candidates:
            family = family_like.at_least(parts.family, 0.5)
            if family < 1.0 and query_generation is not None:
                # Another generation of the same line (qwen2.5 and qwen for "Qwen3"): the nearest first.
                generation = _generation(display, parts.family)
                if generation is not None and generation[0] == query_generation[0]:
                    family = max(0.5, 1.0 - _GENERATION_STEP * abs(generation[1] - query_generation[1]))
            if family < 0.5:
                continue
            if family < 1.0:
                family *= _OTHER_FAMILY
            closeness = 0.0
            if parts.size_b is not None and parts.size_b > 0:
                closeness = 1 / (1 + 3 * abs(math.log(parts.size_b) - wanted))
            partial = 0.5 * family + 0.3 * closeness
            if partial + 0.2 <= best.get(display, 0.0):
                continue
            score = partial + 0.2 * key_like.at_least(parts.key, 0.0)
            if score > best.get(display, 0.0):
                best[display] = score
        ranked = sorted(best.items(), key=lambda kv: (-kv[1], len(kv[0]), kv[0]))
        out = tuple(d for d, score in ranked if score >= 0.45)[:n]
    if not out:
        shown = {p.key: d for p, d in candidates}
        out = suggest(name, shown, shown, n=n)
    return out


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
