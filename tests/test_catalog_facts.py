"""Facts the catalog once got wrong, and the rules that keep them right: inheritance only
when the architecture is unchanged, multimodal totals, sizes consistent with names."""

from __future__ import annotations

import re

import attrs
import pytest

import llmcatalog as lc
from llmcatalog.memory.params import count_params

# A size written in a name or size_label: "13b", "7B", "1.8B", "1_8b" (ids spell the point "_"),
# "8x7B" (MoE: N experts of M), "560m". A number with a leading zero ("01m") is a version, not a size.
_SIZE = re.compile(r"(?<![\w.])(?:(\d+)\s*[x×]\s*)?([1-9]\d*(?:[._]\d+)?|0[._]\d+)\s*([bm])(?![a-z])", re.IGNORECASE)


def stated_sizes(text: str) -> list[tuple[float, float]]:
    """(low, high) parameter counts a name states: one size gives (s, s); "8x7B" gives (7B, 56B)
    (a mixture of experts shares its attention, so it counts less than N times M)."""
    out = []
    for m in _SIZE.finditer(text):
        value = float(m.group(2).replace("_", ".")) * (1e9 if m.group(3).lower() == "b" else 1e6)
        experts = int(m.group(1)) if m.group(1) else 1
        out.append((value, value * experts))
    return out


def _explained(catalog: lc.Catalog, model: lc.Model) -> bool:
    """A sentence starting 'Size:' in the model's notes, or in those of the model whose
    architecture it carries (the explanation is the same for every fine-tune of Qwen-7B)."""
    for m in (model, catalog.get_model(model.architecture_from) if model.architecture_from else None):
        if m is not None and m.notes and "Size:" in m.notes:
            return True
    return False


def test_stated_sizes_parser() -> None:
    """The size parser reads the spellings the catalog uses and skips versions."""
    assert stated_sizes("qwen-1_8b") == [(1.8e9, 1.8e9)]
    assert stated_sizes("Llama 2 13B") == [(13e9, 13e9)]
    assert stated_sizes("mixtral-8x7b-v0.1") == [(7e9, 56e9)]
    assert stated_sizes("bloom-560m") == [(560e6, 560e6)]
    assert stated_sizes("sunsimiao-01m") == []
    assert stated_sizes("chatglm-6b-v0.1") == [(6e9, 6e9)]


def test_every_size_in_a_name_matches_the_count(catalog: lc.Catalog) -> None:
    """A size in a model's id, name or size_label is within 10% of its n_params, or a note
    ('Size: ...') explains the difference. Fix the data, or add that note."""
    problems = []
    for m in catalog.models:
        if m.n_params is None or _explained(catalog, m):
            continue
        for text in (m.id, m.name, m.size_label or ""):
            bad = [(lo, hi) for lo, hi in stated_sizes(text) if not 0.9 * lo <= m.n_params <= 1.1 * hi]
            if bad:
                problems.append(f"{m.id}: {text!r} says {bad[0][1] / 1e9:.3g}B, n_params is {m.n_params / 1e9:.3g}B")
                break
    assert not problems, "\n".join(problems)


def test_multimodal_n_params_is_the_total_of_its_components(catalog: lc.Catalog) -> None:
    """One rule: a model with components counts them all; the language model's count is filled
    into its component, and a total it cannot compute is None, never the language model alone."""
    checked = 0
    for m in catalog.models:
        if not m.components or m.architecture is None:
            continue
        lm = [c for c in m.components if c.role == "language-model"]
        others = [c.n_params for c in m.components if c.role != "language-model"]
        for c in lm:
            assert c.n_params is not None, f"{m.id}: language-model component without a count"
        if m.n_params is None:
            assert None in others, f"{m.id}: every component is sized but n_params is None"
            continue
        if all(n is not None for n in others) and others:
            total = sum(c.n_params or 0 for c in lm) + sum(n or 0 for n in others)
            assert 0.95 * total <= m.n_params <= 1.05 * total, (m.id, m.n_params, total)
            checked += 1
        elif others:  # a stated total must exceed the language model it contains
            assert m.n_params > count_params(m.architecture), m.id
    assert checked >= 3


def test_cogvlm2_is_19b_not_its_language_model(catalog: lc.Catalog) -> None:
    """CogVLM2-Llama3-19B counts its whole checkpoint (19.5B; tests/test_multimodal_counts.py checks the
    exact figure), not Llama-3-8B's 8.03B."""
    m = catalog.get_model("cogvlm2-llama3-chat-19b")
    assert m.n_params is not None
    assert m.n_params >= 17e9
    (lm,) = [c for c in m.components if c.role == "language-model"]
    assert lm.n_params == count_params(catalog.get_model("llama-3-8b-instruct").architecture)  # type: ignore[arg-type]


@pytest.mark.parametrize("mid", ["idefics-9b", "idefics-80b", "biomedgpt-10b"])
def test_multimodal_models_do_not_count_only_their_llm(catalog: lc.Catalog, mid: str) -> None:
    """IDEFICS and BiomedGPT-10B no longer claim their LLaMA's count as the total (unsized
    encoders make the total unknown); the language model's share stays in components."""
    m = catalog.get_model(mid)
    assert m.architecture is not None
    lm_count = count_params(m.architecture)
    assert m.n_params != lm_count
    assert m.n_params is None or m.n_params > lm_count
    assert any(c.role == "language-model" and c.n_params == lm_count for c in m.components)


@pytest.mark.parametrize("mid", ["xrayglm-300", "xrayglm-3000", "remoteglm", "transgpt-mm-6b-v0", "transgpt-mm-6b-v1"])
def test_visualglm_fine_tunes_are_visualglm_sized(catalog: lc.Catalog, mid: str) -> None:
    """Fine-tunes of VisualGLM-6B count its 7.8B total (README: '整体模型共78亿参数'), not ChatGLM-6B's 6.17B."""
    m = catalog.get_model(mid)
    assert m.n_params == 7_800_000_000
    assert {c.role for c in m.components} == {"language-model", "vision-encoder"}


def test_causallm_7b_does_not_carry_the_14b_architecture(catalog: lc.Catalog) -> None:
    """CausalLM 7B is a distilled, smaller model: it says so and inherits no 14B architecture."""
    m = catalog.get_model("causallm-7b")
    assert m.architecture_differs
    assert m.architecture is None
    assert m.n_params is None or m.n_params < 10e9


@pytest.mark.parametrize(
    "mid",
    [
        "belle-llama-ext-13b",
        "xuanyuan-70b",
        "tongyi-finance-14b",
        "ziya2-13b-base",
        "chemdfm-v1.0-13b",
        "legal-lora-7b",
    ],
)
def test_vocabulary_extended_models_do_not_carry_the_base_vocabulary(catalog: lc.Catalog, mid: str) -> None:
    """A model whose vocabulary was extended has its own architecture or none, never its base's."""
    m = catalog.get_model(mid)
    base = catalog.get_model(m.base_model) if m.base_model else None
    assert m.architecture_differs
    if m.architecture is not None and base is not None and base.architecture is not None:
        assert m.architecture.vocab_size != base.architecture.vocab_size
    else:
        assert m.architecture is None
        assert m.architecture_from is None


def test_code_llama_vocabularies(catalog: lc.Catalog) -> None:
    """Code Llama 70B has 32,016 tokens (16 infilling tokens over Llama 2's 32,000) and 16K
    positions; the Python 7B/13B models have 32,000 (config.json files as litgpt transcribes them)."""
    m = catalog.get_model("codellama-70b")
    assert m.architecture is not None
    assert m.architecture.vocab_size == 32016
    assert m.architecture.max_context == 16384
    assert m.architecture_from is None
    for mid in ("codellama-7b-python", "codellama-13b-python"):
        arch = catalog.get_model(mid).architecture
        assert arch is not None
        assert arch.vocab_size == 32000


def test_architecture_differs_stops_inheritance() -> None:
    """A model whose architecture_differs is set inherits nothing; without it the base's
    architecture and parameter count are inherited."""
    arch = lc.Architecture(
        family="llama", n_layers=2, hidden_size=64, n_heads=4, ffn_size=128, vocab_size=1000, max_context=128
    )
    base = lc.Model(id="b", name="B", domain="general", architecture=arch)
    same = lc.Model(id="c", name="C", domain="general", base_model="b")
    other = lc.Model(id="d", name="D", domain="general", base_model="b", architecture_differs="vocab extended")
    cat = lc.Catalog.from_entries(base, same, other)
    assert cat.get_model("c").architecture == arch
    assert cat.get_model("c").n_params == count_params(arch)
    assert cat.get_model("d").architecture is None
    assert cat.get_model("d").n_params is None


def test_multimodal_total_from_components() -> None:
    """n_params of a model with components is the language model plus every other component;
    with an unsized component it is unknown; a fine-tune without components takes its base's."""
    arch = lc.Architecture(
        family="llama", n_layers=2, hidden_size=64, n_heads=4, ffn_size=128, vocab_size=1000, max_context=128
    )
    lm = count_params(arch)
    text = lc.Model(id="lm", name="LM", domain="general", architecture=arch)
    vlm = lc.Model(
        id="vlm",
        name="VLM",
        domain="multimodal",
        base_model="lm",
        components=(
            lc.Component(role="language-model", name="LM", model="lm"),
            lc.Component(role="vision-encoder", name="ViT", n_params=1000),
        ),
    )
    partial = attrs.evolve(vlm, id="vlm2", name="VLM2", components=(lc.Component(role="vision-encoder", name="ViT"),))
    tune = lc.Model(id="tune", name="Tune", domain="multimodal", base_model="vlm")
    cat = lc.Catalog.from_entries(text, vlm, partial, tune)
    assert cat.get_model("vlm").n_params == lm + 1000
    assert cat.get_model("vlm").components[0].n_params == lm
    assert cat.get_model("vlm2").n_params is None
    assert cat.get_model("tune").n_params == lm + 1000
    assert cat.get_model("tune").components == cat.get_model("vlm").components


def test_survey_llm_answers_are_claims_not_measurements(catalog: lc.Catalog) -> None:
    """The survey's Llama-2 'minimum memory' lines (its pasted 通义千问 answer) are kept as the
    survey's claims: marked claimed_by, never compared, so out of every accuracy statistic."""
    llama2 = [(m, f) for m, f in catalog.figures() if m.id in ("llama-2-7b", "llama-2-13b", "llama-2-70b") and f.quote]
    answers = [(m, f) for m, f in llama2 if "最低显存" in (f.quote or "") or "8位精度" in (f.quote or "")]
    assert len(answers) == 9  # 3 sizes x (fp32, fp16, int8)
    for m, f in answers:
        assert f.claimed_by, (m.id, f.quote)
        assert "通义千问" in f.claimed_by
        c = lc.compare_figure(m, f)
        assert c.status == "not-comparable", (m.id, c)
        assert c.reason.startswith("a claim by")
        assert c.error is None
        assert c.estimate is None


def test_a_claim_is_never_compared(catalog: lc.Catalog) -> None:
    """A figure with claimed_by is not compared even when its setting is complete."""
    m = catalog.get_model("llama-2-7b")
    fig = lc.PublishedFigure(
        workload="inference_load",
        metric="unspecified",
        source="https://example.org/survey",
        memory_value=14,
        memory_unit="GB",
        precision="fp16",
        batch_size=1,
    )
    assert lc.compare_figure(m, fig).status == "compared"
    claim = attrs.evolve(fig, claimed_by="a survey")
    assert lc.compare_figure(m, claim).status == "not-comparable"
