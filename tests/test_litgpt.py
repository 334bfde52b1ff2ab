"""litgpt's own code in the calculus (FineTune.framework / Inference.framework = "litgpt").

Facts from outside our code: torch's autograd (what ``torch.nn.functional.gelu`` and transformers'
``NewGELUActivation`` save for backward), and bitsandbytes' 4-bit layout (two weights per byte, one
fp32 absmax per 64-weight block: ``quantize_4bit`` in bitsandbytes 0.41.1 ``functional.py``) with the
dtypes Lightning's ``BitsandbytesPrecision`` quantizes from (fp16, ``_Linear4bit._quantize_weight`` at
Lightning-AI/lightning@71aed75, the commit lit-gpt 8641822 pins). Where each mechanism comes from:
``src/llmcatalog/memory/litgpt.py`` and ``docs/litgpt.md``.
"""

from __future__ import annotations

import attrs
import pytest

import llmcatalog as lc
from llmcatalog.errors import WorkloadError


def _saved_bytes(fn, x) -> int:  # type: ignore[no-untyped-def]
    """Bytes of the distinct storages autograd keeps for ``fn(x)``'s backward, ``x`` excluded."""
    import torch

    storages: dict[int, int] = {}

    def pack(t):  # type: ignore[no-untyped-def]
        st = t.untyped_storage()
        if st.data_ptr() != x.untyped_storage().data_ptr():
            storages[st.data_ptr()] = st.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn(x)
    return sum(storages.values())


def test_fused_gelu_keeps_only_its_input() -> None:
    """litgpt's ``F.gelu(x, approximate="tanh")`` keeps its input only; transformers' ``NewGELUActivation``
    (phi-1.5's ``gelu_new``) three more x-sized tensors: the 1 and 4 f-sized tensors of memory/training.py."""
    torch = pytest.importorskip("torch")
    activations = pytest.importorskip("transformers.activations")
    x = torch.randn(4, 256, dtype=torch.bfloat16, requires_grad=True)
    size = x.numel() * x.element_size()
    fused = _saved_bytes(lambda t: torch.nn.functional.gelu(t, approximate="tanh"), x)
    chain = _saved_bytes(activations.NewGELUActivation(), x)
    assert fused == 0  # only x itself
    assert chain == 3 * size  # x plus three more


def test_litgpt_lora_on_phi_drops_the_gelu_chain() -> None:
    """phi-1.5 LoRA under litgpt keeps 3 f-sized bf16 tensors per token fewer in each layer whose MLP gets
    a gradient: all but layer 0 (a parallel block: its MLP reads the embedding's norm, which needs none)."""
    model = lc.get_model("microsoft/phi-1_5")
    a = model.architecture
    assert a is not None
    w = lc.FineTune(
        method="lora", precision="bf16", mixed_precision=False, batch_size=2, seq_len=1044,
        lora_rank=8, lora_targets=("q_proj", "v_proj"), lora_dropout=0.05, framework="litgpt",
    )  # fmt: skip
    litgpt = lc.estimate_vram(model, w).components["activations.saved"]
    hf = lc.estimate_vram(model, attrs.evolve(w, framework=None)).components["activations.saved"]
    assert hf - litgpt == pytest.approx(3 * 2 * a.ffn_size * 2 * 1044 * (a.n_layers - 1), abs=2)


def _nf4_bytes(v: int, h: int) -> float:
    """bitsandbytes nf4 without double quantization: 4 bits per weight + an fp32 absmax per 64."""
    return v * h / 2 + 4 * v * h / 64


@pytest.mark.parametrize("mid", ["microsoft/phi-1_5", "meta-llama/Llama-2-7b-hf", "tiiuae/falcon-40b"])
def test_litgpt_nf4_inference_head_and_dequantized_copy(mid: str) -> None:
    """litgpt stores its own LM head (untied even for Falcon) in nf4, and the prompt's forward dequantizes
    it to fp16 and casts that to bf16: 4 bytes per head weight at once (the largest Linear in these models)."""
    model = lc.get_model(mid)
    a = model.architecture
    assert a is not None
    v, h = a.vocab_size, a.hidden_size
    w = lc.Inference(precision="bnb-nf4", context_tokens=56, prompt_tokens=6, framework="litgpt")
    lit = lc.estimate_vram(model, w)
    hf = lc.estimate_vram(model, attrs.evolve(w, framework=None))
    tied = mid == "tiiuae/falcon-40b"
    head_delta = _nf4_bytes(v, h) - (0 if tied else 2 * v * h)  # transformers keeps an untied head in bf16
    assert lit.components["weights.model"] - hf.components["weights.model"] == pytest.approx(head_delta, abs=8)
    assert lit.components["activations.dequantize"] == 4 * v * h
    assert lit.peak_phase == "prefill"


def test_litgpt_dequantizes_only_for_several_token_rows() -> None:
    """bitsandbytes runs its gemv kernel for one token row (no dequantized copy): a one-token prompt and
    batch-1 decoding pay nothing; a batch of two pays it while decoding; fp16 compute needs no cast."""
    model = lc.get_model("microsoft/phi-1_5")
    a = model.architecture
    assert a is not None
    one = lc.Inference(precision="bnb-nf4", context_tokens=8, prompt_tokens=1, framework="litgpt")
    assert "activations.dequantize" not in lc.estimate_vram(model, one).components
    two = lc.Inference(precision="bnb-nf4", batch_size=2, context_tokens=8, prompt_tokens=1, framework="litgpt")
    assert lc.estimate_vram(model, two).components["activations.dequantize"] == 4 * a.vocab_size * a.hidden_size
    fp16 = attrs.evolve(two, compute_dtype="fp16")
    assert lc.estimate_vram(model, fp16).components["activations.dequantize"] == 2 * a.vocab_size * a.hidden_size
    bf16 = lc.Inference(precision="bf16", context_tokens=56, prompt_tokens=6, framework="litgpt")
    assert "activations.dequantize" not in lc.estimate_vram(model, bf16).components


def test_litgpt_refuses_what_it_does_not_run() -> None:
    model = lc.get_model("meta-llama/Llama-2-7b-hf")
    with pytest.raises(WorkloadError, match="precision"):
        lc.estimate_vram(model, lc.Inference(precision="awq-int4", framework="litgpt"))
    with pytest.raises(WorkloadError, match="one GPU"):
        lc.estimate_vram(model, lc.Inference(framework="litgpt", parallelism=lc.Parallelism(tensor_parallel=2)))
    with pytest.raises(WorkloadError, match="framework"):
        lc.Inference(framework="vllm")
    assert lc.Inference(framework="LitGPT").framework == "litgpt"
