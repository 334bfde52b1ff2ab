"""bitsandbytes LLM.int8 under a PEFT method (memory/bnb_int8.py): what ``MatMul8bitLt`` keeps and makes,
by bitsandbytes release, checked against sizes derived by hand from bitsandbytes' source.

The source facts, per block Linear with ``in`` inputs, ``out`` outputs and ``T`` tokens (the frozen int8
weight needs no gradient), from ``bitsandbytes/autograd/_functions.py`` ``MatMul8bitLt``:

- 0.37.0 (lines 303-412): ``CA, CAt, ... = F.double_quant(A)``; when the input needs a gradient,
  ``ctx.tensors = (CAt, subA)``: an int8 ``T x in`` copy is kept, the 16-bit input is not.
- 0.39.0 to 0.44.1 (e.g. 0.41.0 lines 323-436): the same, with ``ctx.tensors = (CAt, subA, A)``.
- 0.45 and later (today's main, ``forward``): ``int8_vectorwise_quant`` only; ``ctx.tensors = (CAt, subA, A)``
  with ``CAt = None``: the input alone.
- backward, 0.37-0.44: ``undo_layout(state.CxB, ...)`` (int8) then ``.to(ctx.dtype_A)`` (16-bit) of the
  weight, and ``F.double_quant(grad_output)`` (two int8 ``T x out``); 0.45+: ``state.CB.to(dtype_A, copy=True)``.

Provenance of the model: tests/data/hf_configs/llama-2-7b.json (h 4096, f 11008, 32 layers, MHA).
"""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest

import llmcatalog as lc
from llmcatalog.errors import WorkloadError
from llmcatalog.memory.bnb_int8 import int8_forward_transient_per_token, int8_matmul_terms
from llmcatalog.values.workload import BNB_VERSIONS

CONFIGS = Path(__file__).parent / "data" / "hf_configs"
H, F, L = 4096, 11008, 32


def _llama_7b() -> lc.Model:
    cfg = json.loads((CONFIGS / "llama-2-7b.json").read_text())
    return lc.Model.from_hf_config(cfg, name="llama-2-7b")


def _saved(version: str, **settings: object) -> int:
    """activations.saved of LoRA q/v on an LLM.int8 Llama-2-7B, one sequence of 256 tokens, no checkpointing."""
    w = lc.FineTune(
        method="lora",
        base_format="bnb-int8",
        precision="fp16",
        batch_size=1,
        seq_len=256,
        gradient_checkpointing=False,
        lora_targets=("q_proj", "v_proj"),
        bitsandbytes_version=version,
        **settings,  # type: ignore[arg-type]
    )
    return lc.estimate_vram(_llama_7b(), w).components["activations.saved"]


def test_model_shape_is_llama_2_7b() -> None:
    """The hand derivations below use Llama-2-7B's widths; the config gives them."""
    a = _llama_7b().architecture
    assert (a.hidden_size, a.ffn_size, a.n_layers, a.n_kv_heads) == (H, F, L, 32)


def test_int8_input_copy_cat_per_linear() -> None:
    """0.39-0.44 keep, beyond 0.45's set, one int8 ``CAt`` (T x in bytes) per Linear whose input needs a
    gradient: in layer 0 (frozen embeddings, no checkpointing, so PEFT does not make the embedding output
    require a gradient) o, gate, up and down; in the other 31 also q, k and v."""
    tokens = 256
    layer0 = H + 2 * H + F  # o_proj (in = n_heads * head_dim = 4096), gate_proj, up_proj, down_proj
    others = 3 * H + layer0  # + q_proj, k_proj, v_proj
    expected = tokens * (layer0 + (L - 1) * others)
    assert _saved("0.39-0.44") - _saved(">=0.45") == expected


def test_0_37_keeps_no_16_bit_input() -> None:
    """0.37 keeps ``(CAt, subA)``, not the 16-bit input that 0.39-0.44 add: with fp16 adapters on q and v
    (which keep that input themselves) the difference is the inputs of o, gate/up (one shared tensor) and
    down, 2 bytes each, in all 32 layers."""
    tokens = 256
    expected = tokens * L * 2 * (H + H + F)
    assert _saved("0.39-0.44", mixed_precision=False) - _saved("0.37-0.38", mixed_precision=False) == expected


@pytest.mark.parametrize(("version", "bytes_per_weight"), [("0.37-0.38", 3), ("0.39-0.44", 3), (">=0.45", 2)])
def test_dequantized_weight_in_backward(version: str, bytes_per_weight: int) -> None:
    """The backward's 16-bit weight copy of the largest Linear (11008 x 4096), after an int8 ``undo_layout``
    copy of the tiled weight in 0.37-0.44 (2 + 1 bytes per element at once), a plain copy from 0.45."""
    w = lc.FineTune(method="qlora", qlora_format="bnb-int8", precision="fp16", bitsandbytes_version=version)
    est = lc.estimate_vram(_llama_7b(), w)
    assert est.components["activations.dequantize"] == F * H * bytes_per_weight


def test_forward_and_backward_temporaries_per_token() -> None:
    """Per token of the largest Linear: 0.37-0.44 hold CA, CAt, C32A (int8 x in), the int32 out32 and the
    fp16 output before the clone (beyond the result: 3 in + 6 out; gate/up: in 4096, out 11008), and in
    backward the quantized gradient Cgrad, Cgradt (2 x out); 0.45 holds CA and the int32 product (in + 4 out)."""
    a = _llama_7b().architecture
    old = int8_forward_transient_per_token(a, int8_matmul_terms("0.39-0.44"))
    new = int8_forward_transient_per_token(a, int8_matmul_terms(">=0.45"))
    assert old == (3 * H + 6 * F, 2 * F)
    assert new == (H + 4 * F, 0)


def test_gradient_quantization_counts_in_a_layer_backward() -> None:
    """Under checkpointing, with a fused loss so that a layer's backward is the peak, 0.39-0.44 add to it over
    0.45 the quantized gradient of the widest output (Cgrad, Cgradt: 2 x 11008 bytes per token) and the
    recomputed layer's int8 input copies (q, k, v, o, gate, up: 4096 each; down: 11008)."""
    w_old = lc.FineTune(
        method="qlora",
        qlora_format="bnb-int8",
        precision="fp16",
        batch_size=64,
        seq_len=512,
        loss="fused-linear",
        bitsandbytes_version="0.39-0.44",
    )
    w_new = attrs.evolve(w_old, bitsandbytes_version=">=0.45")
    m = _llama_7b()
    old = lc.estimate_vram(m, w_old).components["activations.logits_and_transients"]
    new = lc.estimate_vram(m, w_new).components["activations.logits_and_transients"]
    tokens = 64 * 512
    assert old - new == tokens * (2 * F + 6 * H + F)


def test_version_is_checked() -> None:
    """An unknown bitsandbytes release is refused, naming the field and the choices."""
    with pytest.raises(WorkloadError, match="bitsandbytes_version"):
        lc.FineTune(method="qlora", qlora_format="bnb-int8", bitsandbytes_version="0.41")  # type: ignore[arg-type]


def test_other_bases_ignore_the_version() -> None:
    """The release matters only for an LLM.int8 base: an NF4 base's estimate does not move."""
    w = lc.FineTune(method="qlora", qlora_format="bnb-nf4", precision="bf16")
    m = _llama_7b()
    totals = {lc.estimate_vram(m, attrs.evolve(w, bitsandbytes_version=v)).total_bytes for v in BNB_VERSIONS}
    assert len(totals) == 1


def test_installed_bitsandbytes_keeps_what_the_terms_say() -> None:
    """With bitsandbytes >= 0.45 installed, a real ``MatMul8bitLt`` on CPU keeps the 16-bit input (sharing its
    storage) and no int8 copy, as the ``>=0.45`` terms say."""
    bnb = pytest.importorskip("bitsandbytes")
    torch = pytest.importorskip("torch")
    major, minor = (int(p) for p in bnb.__version__.split(".")[:2])
    if (major, minor) < (0, 45):
        pytest.skip("the CPU path of MatMul8bitLt exists from bitsandbytes 0.45")
    from bitsandbytes.autograd._functions import MatMul8bitLt

    lin = bnb.nn.Linear8bitLt(64, 96, bias=False, has_fp16_weights=False, threshold=6.0)
    lin.weight = bnb.nn.Int8Params(torch.randn(96, 64), requires_grad=False, has_fp16_weights=False)
    lin = lin.to("cpu")
    lin.init_8bit_state()
    x = torch.randn(2, 8, 64).half().requires_grad_(True)
    y = MatMul8bitLt.apply(x, lin.weight, None, None, lin.state)
    cat, _sub_a, a = y.grad_fn.tensors
    terms = int8_matmul_terms(">=0.45")
    assert (cat is None) == (terms.saved_per_in == 0)
    assert (a is not None and a.untyped_storage().data_ptr() == x.untyped_storage().data_ptr()) == terms.keeps_input
