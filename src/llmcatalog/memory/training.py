"""Fine-tuning memory: parameters, gradients, optimizer states and saved activations.

Pure functions. The model follows what a Hugging Face transformers / PEFT training step
allocates (transformers 5.x decoders, PyTorch autograd, ``torch.optim``), component by component:

**Parameters** (``weights.*``). Full fine-tuning with ``mixed_precision`` keeps fp32 parameters
and runs under ``torch.autocast`` (HF Trainer ``bf16=True`` on an fp32 model, "AMP": 4 B/param),
otherwise parameters are in the compute dtype. Frozen parameters (LoRA, QLoRA, freeze,
P-Tuning v2) stay in the compute dtype; QLoRA stores the block Linear weights in its 4-bit
format and PEFT ``prepare_model_for_kbit_training`` casts the other frozen parameters to fp32.
Trainable PEFT parameters are fp32 when ``mixed_precision`` (PEFT ``autocast_adapter_dtype``).
LoRA adds ``r * (in + out)`` per adapted Linear (Hu et al., arXiv 2106.09685); prefix tuning
adds ``n_virtual * n_layers * 2 * n_kv_heads * head_dim`` (PEFT ``PrefixEncoder``; with
``prefix_projection`` the two-layer MLP of P-Tuning v2, arXiv 2110.07602).

**Gradients**: one per trainable parameter, in its dtype (``param.grad``).

**Optimizer states** (``optimizer.states``), per trainable parameter, in the parameter's dtype
(``torch.optim`` keeps states like their parameters): AdamW 2 (m and v, Loshchilov & Hutter,
arXiv 1711.05101), SGD with momentum 1, Lion 1, Adafactor ``4*(rows+cols)`` bytes per matrix
(factored second moment, Shazeer & Stern arXiv 1804.04235), bitsandbytes 8-bit AdamW 2 bytes
plus an fp32 absmax per 256-element block (Dettmers et al., arXiv 2110.02861). The step's
temporaries (``optimizer.step_temporaries``): the ``foreach`` AdamW of ``torch.optim`` computes
``torch._foreach_sqrt(exp_avg_sqs)`` for all parameters at once, one state-sized buffer;
``fused`` and the bitsandbytes optimizers allocate none of note.

**Activations saved for backward** (``activations.saved``): per decoder layer and token, the
tensors autograd keeps, derived op by op from the transformers implementations:

- RMSNorm (``x.to(float32)``, ``x * rsqrt(var)``, ``weight * x``): the fp32 copy of its input
  when the input needs a gradient, plus the normalised input when the weight is trained;
  LayerNorm keeps its input.
- Linear: its input when its weight (or a LoRA adapter on it) is trained. Under autocast every
  Linear casts an fp32 input to bf16 separately, so each keeps its own copy; with bf16
  inputs one copy is shared. LoRA keeps also ``r`` values per token.
- Attention: SDPA/FlashAttention keep Q, K, V, the output and an fp32 log-sum-exp per head
  (``scaled_dot_product_*_attention`` backward); eager attention also keeps the fp32 softmax
  and its cast: ``n_heads * s * (4 + e)`` bytes per token. P-Tuning v2 lengthens K and V.
- MLP: gated (``down(act(gate(x)) * up(x))``): the gate output (for the activation's
  backward), ``act(gate)`` and ``up`` (for the product), and the product when ``down`` is
  trained; GPT-style ``NewGELUActivation`` keeps four ``f``-sized tensors, a fused GELU one
  (``FineTune.framework="litgpt"``: litgpt calls ``torch.nn.functional.gelu``).
- Layers before the first trainable parameter keep nothing: no gradient flows there.

With gradient checkpointing (transformers' per-layer, non-reentrant) each layer keeps only its
input, and the layer being recomputed during backward keeps its full set once.

**Logits and loss** (``activations.logits``): transformers' ``ForCausalLMLoss`` upcasts the
logits to fp32 and takes ``cross_entropy``; at the start of backward the fp32 log-softmax
output, the gradient flowing into it and out of it coexist: ``12 * V`` bytes per token (the
largest tensor for 150k-256k vocabularies; Megatron counts it too).

**Peak**: the larger of the start of backward (parameters, optimizer states, all saved
activations, logits, autocast's bf16 weight copies) and the optimizer step (parameters,
gradients, states, step temporaries). With ZeRO/FSDP the sharded parts are divided by the
data-parallel size and the gather/bucket buffers are added (see :func:`_sharding_buffers`).
"""

from __future__ import annotations

import functools
import itertools
import math
import warnings
from typing import Any

import attrs

from ..errors import LoraTargetWarning, WorkloadError, outside_stacklevel
from ..values.model import Architecture
from ..values.precision import DTYPE_BYTES, FORMATS
from ..values.workload import KBIT_BASES, MOE_LAYOUTS, FineTune, Parallelism
from .bnb_int8 import int8_forward_transient_per_token, int8_matmul_terms
from .litgpt import litgpt_dequantize_bytes, litgpt_head_bytes
from .overhead import overhead_bytes
from .params import (
    attention_params_per_layer,
    chatglm_largest_linear,
    layer_mlp_params,
    linear_shapes,
    moe_layers_in,
    norm_params,
    param_breakdown,
)
from .result import MemoryEstimate
from .sharding import deepspeed_buffer_bytes, fsdp_buffer_bytes, nccl_buffer_bytes, resolve_buckets
from .weights import quantized_linear_bytes

__all__ = ["estimate_finetune", "lora_params", "prefix_params", "resolve_lora_targets"]

#: Activations transformers implements as a chain of element-wise ops (``NewGELUActivation``).
_GELU_CHAINS = frozenset({"gelu-new", "gelu-fast", "gelu-pytorch-tanh-python"})
#: Frameworks whose own model code runs a GPT-style MLP's GELU as one ATen op whatever the checkpoint
#: calls it: litgpt's ``GptNeoxMLP.forward`` is ``torch.nn.functional.gelu(fc(x), approximate=
#: config.gelu_approximate)`` (Lightning-AI/litgpt@8641822 ``lit_gpt/model.py``; phi-1.5's config sets
#: ``gelu_approximate="tanh"``, the function ``gelu_new`` names), and ``gelu`` saves only its input.
_FUSED_GELU_FRAMEWORKS = frozenset({"litgpt"})


def _gelu_chain(arch: Architecture, framework: str | None) -> bool:
    """Whether the MLP's activation runs as transformers' element-wise chain (``NewGELUActivation``
    keeps four ``f``-sized tensors for backward) rather than one fused op (one: its input)."""
    return arch.activation in _GELU_CHAINS and framework not in _FUSED_GELU_FRAMEWORKS


_ATTN = ("q_proj", "k_proj", "v_proj", "o_proj")
#: Multi-head latent attention (DeepSeek-V2/V3 ``modeling_deepseek_v3.py``); ``q_proj`` when ``q_lora_rank`` is None.
_MLA = ("q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj")
_MLP = ("gate_proj", "up_proj", "down_proj")
_ALL_LINEAR = _ATTN + _MLP
#: Expert weights: separate Linears per expert (transformers 4.x) ...
_EXPERT_LINEARS = ("experts.gate_proj", "experts.up_proj", "experts.down_proj")
#: ... or fused 3-D parameters adapted through PEFT's ``ParamWrapper`` (transformers 5.x): the gate/up
#: half at rank r (``target_parameters``, or our ``"experts"``) or 2r (two v4 names fused, see below).
_FUSED_EXPERTS = ("fused_experts.gate_up_proj", "fused_experts.gate_up_proj(2r)", "fused_experts.down_proj")
_SHARED = ("shared.gate_proj", "shared.up_proj", "shared.down_proj")
_MOE_NAMES = ("router", "shared_expert_gate", *_EXPERT_LINEARS, *_FUSED_EXPERTS, *_SHARED)
#: Outside the blocks: PEFT adapts the LM head (``nn.Linear``) and the input embeddings (``lora.Embedding``:
#: A ``[r, V]``, B ``[h, r]``) when named; ``"all-linear"`` leaves the head out
#: (PEFT ``_maybe_include_all_linear_layers``).
_OUTER = ("lm_head", "embed_tokens")
_OUTER_ALIASES = {
    "lm_head": "lm_head",
    "output": "lm_head",
    "output_layer": "lm_head",
    "embed_out": "lm_head",
    "embed_tokens": "embed_tokens",
    "wte": "embed_tokens",
    "word_embeddings": "embed_tokens",
    "embed_in": "embed_tokens",
}
#: What a LoRA target may adapt (the names :func:`resolve_lora_targets` returns).
LORA_MODULES = frozenset((*_ALL_LINEAR, *_MLA, *_MOE_NAMES, *_OUTER))

#: Expert-weight layouts: ``transformers-5`` (fused ``gate_up_proj [E, 2f, h]`` and ``down_proj [E, h, f]``
#: parameters; PEFT >= 0.18 adapts them with ``target_parameters`` / ``ParamWrapper``) and
#: ``transformers-4`` (one ``nn.Linear`` per expert and projection, adapted one by one).
DEFAULT_MOE_LAYOUT = MOE_LAYOUTS[0]

#: Module names of other families, mapped to the Llama names of the weights they hold.
_ALIASES: dict[str, tuple[str, ...]] = {
    "query_key_value": ("q_proj", "k_proj", "v_proj"),  # ChatGLM, BLOOM, Falcon, GPT-NeoX
    "W_pack": ("q_proj", "k_proj", "v_proj"),  # Baichuan
    "c_attn": ("q_proj", "k_proj", "v_proj"),  # GPT-2, Qwen-1
    "qkv_proj": ("q_proj", "k_proj", "v_proj"),  # Phi-3
    "wqkv": ("q_proj", "k_proj", "v_proj"),  # InternLM2
    "dense": ("o_proj",),  # Phi, ChatGLM, BLOOM, Falcon
    "wo": ("o_proj",),
    "out_proj": ("o_proj",),
    "fc1": ("up_proj",),  # Phi, OPT
    "fc2": ("down_proj",),
    "c_fc": ("up_proj",),  # GPT-2
    "dense_h_to_4h": ("gate_proj", "up_proj"),  # ChatGLM2/3 (fused), BLOOM, Falcon
    "dense_4h_to_h": ("down_proj",),
    "gate_up_proj": ("gate_proj", "up_proj"),
    "c_proj": ("o_proj", "down_proj"),  # GPT-2 / Qwen-1 use c_proj for both
}

_NEOX = frozenset({"chatglm", "codegeex", "bloom", "falcon", "gpt-neox", "gpt_neox"})
_GPT2 = frozenset({"gpt2", "gpt-bigcode", "codeshell", "starcoder2", "qwen"})
#: The families whose modules really carry each :data:`_ALIASES` / ``w1``-``w3`` name (their transformers
#: or remote code); on any other family the name is mapped to the Llama projections, and a
#: :class:`~llmcatalog.LoraTargetWarning` says so (PEFT itself would find no such module there).
_NATIVE: dict[str, frozenset[str]] = {
    "query_key_value": _NEOX,
    "W_pack": frozenset({"baichuan"}),
    "c_attn": _GPT2 - {"starcoder2"},
    "qkv_proj": frozenset({"phi3", "moss"}),
    "wqkv": frozenset({"internlm2"}),
    "dense": _NEOX | {"phi"},
    "wo": frozenset({"internlm2"}),
    "out_proj": frozenset({"opt", "mpt", "gptj", "moss"}),
    "fc1": frozenset({"phi", "opt"}),
    "fc2": frozenset({"phi", "opt"}),
    "c_fc": _GPT2 - {"qwen"},
    "c_proj": _GPT2,
    "dense_h_to_4h": _NEOX,
    "dense_4h_to_h": _NEOX,
    "gate_up_proj": frozenset({"phi3", "glm", "glm4"}),
    "w1": frozenset({"internlm2", "qwen", "mixtral", "phimoe", "grok-1"}),
    "w2": frozenset({"internlm2", "qwen", "mixtral", "phimoe", "grok-1"}),
    "w3": frozenset({"internlm2", "mixtral", "phimoe", "grok-1"}),
}


def _mapped_target(arch: Architecture, name: str, used: tuple[str, ...] | set[str]) -> None:
    """Warn that LoRA target ``name`` is not a module of ``arch``'s family and was counted as ``used``."""
    natives = _NATIVE.get(name, frozenset())
    if arch.family in natives:
        return
    what = ", ".join(sorted(used)) if used else "nothing (dropped)"
    warnings.warn(
        LoraTargetWarning(
            f"LoRA target {name!r} is not a module of {arch.family} models (it is a {'/'.join(sorted(natives))} "
            f"name): "
            f"counted as {what}; PEFT on this model needs its own module names"
        ),
        stacklevel=outside_stacklevel(),
    )


#: ``w1``/``w2``/``w3`` by family. Mixtral (``block_sparse_moe.experts.*.w1`` gate, ``w2`` down, ``w3``
#: up), PhiMoE and InternLM2 (``feed_forward.w1`` gate, ``w3`` up, ``w2`` down) follow Meta's original
#: Llama code; Qwen-1 (``modeling_qwen.py``: ``c_proj(w1(x) * silu(w2(x)))``) has only ``w1`` (up) and
#: ``w2`` (gate), its down projection being ``c_proj``.
_W_NAMES: dict[str, dict[str, str]] = {
    "qwen": {"w1": "up_proj", "w2": "gate_proj"},
}
_W_DEFAULT = {"w1": "gate_proj", "w2": "down_proj", "w3": "up_proj"}


@attrs.frozen
class _MoeFamily:
    """How a mixture-of-experts family names and stores its expert and router weights.

    ``expert_names``: the v4 (per-expert Linear) leaf names and the projection each is; ``router_linear``:
    whether the router is an ``nn.Linear`` (transformers 4.x, 5.x), which is what PEFT can adapt by module
    name; ``fused``: whether the experts are fused 3-D parameters (transformers 4.x, 5.x); ``converts``:
    whether PEFT (``peft/utils/transformers_weight_conversion.py``, ``_MOE_TARGET_MODULE_MAPPING``) turns
    the v4 names into ``target_parameters`` on a transformers 5 model. It does so for ``mixtral`` and for
    the model types mapped to the ``qwen2_moe`` pattern (qwen3_moe, deepseek_v2, deepseek_v3, olmoe...),
    but not for ``qwen2_moe`` itself, phimoe, llama4 or gpt_oss (PEFT 0.21, transformers 5.24).
    """

    expert_names: dict[str, str]
    router_linear: tuple[bool, bool] = (True, False)
    fused: tuple[bool, bool] = (False, True)
    converts: bool = False


_GATED_NAMES = {"gate_proj": "gate_proj", "up_proj": "up_proj", "down_proj": "down_proj"}
_MIXTRAL_NAMES = {"w1": "gate_proj", "w3": "up_proj", "w2": "down_proj"}
_MOE_FAMILIES: dict[str, _MoeFamily] = {
    "mixtral": _MoeFamily(_MIXTRAL_NAMES, converts=True),
    "phimoe": _MoeFamily(_MIXTRAL_NAMES, router_linear=(True, True)),
    "qwen2-moe": _MoeFamily(_GATED_NAMES),
    "qwen3-moe": _MoeFamily(_GATED_NAMES, converts=True),
    "deepseek-v2": _MoeFamily(_GATED_NAMES, router_linear=(False, False), converts=True),
    "deepseek-v3": _MoeFamily(_GATED_NAMES, router_linear=(False, False), converts=True),
    # DeepSeek-MoE runs on its remote code, whose experts stay separate Linears under any transformers.
    "deepseek": _MoeFamily(_GATED_NAMES, router_linear=(False, False), fused=(False, False)),
    "llama4": _MoeFamily(_GATED_NAMES, router_linear=(True, True), fused=(True, True)),
    "gpt-oss": _MoeFamily(_GATED_NAMES, router_linear=(False, False), fused=(True, True)),
    # Glm4MoeTopkRouter holds a bare weight Parameter (no Linear), as in DeepSeek-V3.
    "glm4-moe": _MoeFamily(_GATED_NAMES, router_linear=(False, False)),
}
#: Other MoE families: Qwen2-MoE-like names, per-expert Linears in transformers 4, fused in 5, no conversion.
_MOE_DEFAULT = _MoeFamily(_GATED_NAMES)


def _attention_names(arch: Architecture) -> tuple[str, ...]:
    """The attention Linears of ``arch``: Llama's four, or the latent-attention ones."""
    if not arch.is_mla:
        return _ATTN
    q = ("q_proj",) if arch.q_lora_rank is None else ("q_a_proj", "q_b_proj")
    return (*q, "kv_a_proj_with_mqa", "kv_b_proj", "o_proj")


def _check_layout(moe_layout: str) -> int:
    if moe_layout not in MOE_LAYOUTS:
        raise WorkloadError(f"moe_layout must be one of {', '.join(MOE_LAYOUTS)}, got {moe_layout!r}")
    return 0 if moe_layout == "transformers-4" else 1


def resolve_lora_targets(
    arch: Architecture, targets: tuple[str, ...], *, moe_layout: str = DEFAULT_MOE_LAYOUT
) -> frozenset[str]:
    """The weights that PEFT ``LoraConfig(target_modules=targets)`` adapts on ``arch`` (names of :data:`LORA_MODULES`).

    Names are the module leaf names of the family's transformers code; other families' fused or
    renamed modules map to the Llama names (:data:`_ALIASES`; ``w1``/``w2``/``w3`` by family).
    ``"all-linear"`` is PEFT's shorthand for every ``nn.Linear`` in the blocks. ``"experts"`` (ours)
    adapts every routed expert: PEFT ``target_parameters=["gate_up_proj", "down_proj"]`` on fused
    experts, the per-expert Linears otherwise.

    Mixture-of-experts layers follow PEFT 0.21 with the ``moe_layout`` of transformers:

    - ``transformers-4``: experts are separate Linears, so a name such as Mixtral's ``w1`` or
      Qwen2-MoE's ``gate_proj`` adapts that projection of every expert (and of the dense MLPs and
      shared experts that share the name); the router (``gate``/``router``) when it is an ``nn.Linear``.
    - ``transformers-5``: experts are fused 3-D parameters. For the families PEFT converts
      (Mixtral, Qwen3-MoE, DeepSeek-V2/V3) the v4 names become ``target_parameters``: both halves of
      ``gate_up_proj`` named (``w1`` + ``w3``, ``gate_proj`` + ``up_proj``) adapt it at rank ``2r``
      (and ``2*alpha``), one half alone is refused, the down name adapts ``down_proj``, ``gate`` the
      router weight -- and the converted names no longer adapt the dense MLPs or shared experts.
      Other families adapt only real ``nn.Linear`` modules; their experts only through ``"experts"``.
    """
    v5 = _check_layout(moe_layout)
    moe = arch.is_moe
    fam = _MOE_FAMILIES.get(arch.family, _MOE_DEFAULT)
    fused = moe and fam.fused[v5]
    converts = moe and v5 == 1 and fam.converts
    router_linear = fam.router_linear[v5]
    w_names = _W_NAMES.get(arch.family, _W_DEFAULT)
    attn = _attention_names(arch)

    # Module names -> dense-MLP projections (the names of the dense MLPs and, on MoE layers, the shared experts).
    expanded: set[str] = set()
    converted: dict[str, set[str]] = {"gate_proj": set(), "up_proj": set(), "down_proj": set()}  # v5 conversion
    router = False
    outer: set[str] = set()
    unknown = []
    for t in targets:
        if t in ("all-linear", "all"):  # "all": LLaMA-Factory's lora_target for every Linear
            expanded.update(attn)
            expanded.update(_MLP)
            expanded.add("shared_expert_gate")
            if moe and (router_linear or converts):
                router = True
            if converts:  # PEFT adds every v4 expert name of the family
                for name, proj in fam.expert_names.items():
                    converted[proj].add(name)
            elif moe and not fused:
                expanded.add("experts")
            continue
        if moe and fam.expert_names.get(t) and (converts or not fused):
            proj = fam.expert_names[t]
            if converts:
                converted[proj].add(t)
                continue
            expanded.add("experts." + proj)
            if t in _MLP:  # the same leaf name on the dense MLPs and shared experts
                expanded.add(proj)
            continue
        if t in ("gate", "router") and moe:
            if not (router_linear or (converts and t == "gate")):
                raise WorkloadError(
                    f"LoRA target {t!r}: the {arch.family} router is not an nn.Linear under {moe_layout}, so PEFT "
                    "cannot adapt it by module name; leave it out"
                )
            router = True
        elif t == "experts" and moe:
            expanded.add("experts")
        elif t in _OUTER_ALIASES:
            outer.add(_OUTER_ALIASES[t])
        elif (t == "shared_expert_gate" and arch.shared_expert_gate) or t in (*_ALL_LINEAR, *_MLA):
            expanded.add(t)
        elif t in w_names:
            expanded.add(w_names[t])
            _mapped_target(arch, t, {w_names[t]})
        elif t in _ALIASES:
            expanded.update(_ALIASES[t])
            kept = {n for n in _ALIASES[t] if not (n == "gate_proj" and arch.mlp != "gated")}
            _mapped_target(arch, t, kept)
        else:
            unknown.append(t)
    if unknown:
        known = {*_ALL_LINEAR, *attn, *_ALIASES, *w_names, *_OUTER, "all-linear"}
        if moe:
            known |= {"experts", "gate", "router", *fam.expert_names}
        if arch.shared_expert_gate:
            known.add("shared_expert_gate")
        raise WorkloadError(f"unknown LoRA target module {unknown[0]!r}; known names: {', '.join(sorted(known))}")

    names: set[str] = {n for n in expanded if n in attn}
    dense_mlp = {n for n in expanded if n in _MLP}
    if converts:
        # PEFT moves every converted name from target_modules to target_parameters.
        dense_mlp -= {n for n in _MLP if n in fam.expert_names}
    if arch.mlp != "gated":
        dense_mlp.discard("gate_proj")
        if "gate_proj" in targets:
            warnings.warn(
                LoraTargetWarning(
                    f"LoRA target 'gate_proj': this {arch.family} model's MLP is not gated (no gate "
                    "projection), so it is dropped"
                ),
                stacklevel=outside_stacklevel(),
            )
    if arch.n_layers > arch.n_moe_layers:
        names |= dense_mlp
    if moe and arch.n_moe_layers:
        if arch.n_shared_experts:
            names |= {"shared." + n for n in dense_mlp}
        if arch.shared_expert_gate and "shared_expert_gate" in expanded:
            names.add("shared_expert_gate")
        if router:
            names.add("router")
        if converts:
            halves = [n for proj in ("gate_proj", "up_proj") for n in sorted(converted[proj])]
            if len(halves) == 1:
                other = next(n for n, p in fam.expert_names.items() if p in ("gate_proj", "up_proj") and n != halves[0])
                raise WorkloadError(
                    f"LoRA target {halves[0]!r} needs {other!r} too: PEFT adapts {arch.family} experts under "
                    f"{moe_layout} through their fused gate_up_proj, which holds both"
                )
            if halves:
                names.add("fused_experts.gate_up_proj(2r)")
            if converted["down_proj"]:
                names.add("fused_experts.down_proj")
        if "experts" in expanded:
            names |= {"fused_experts.gate_up_proj", "fused_experts.down_proj"} if fused else set(_EXPERT_LINEARS)
        names |= {n for n in expanded if n.startswith("experts.")}
        if arch.mlp != "gated":
            names -= {"experts.gate_proj", "shared.gate_proj"}
    return frozenset(names | outer)


#: Module names that are ONE nn.Linear holding several of the Llama projections (one input): a LoRA on
#: it has one A matrix ``r x in`` and one B matrix ``(sum of outs) x r`` (PEFT ``LoraLayer`` on that
#: Linear), not one adapter per projection.
_FUSED = {
    "query_key_value": ("q_proj", "k_proj", "v_proj"),  # ChatGLM2/3, BLOOM, Falcon, GPT-NeoX
    "W_pack": ("q_proj", "k_proj", "v_proj"),  # Baichuan
    "c_attn": ("q_proj", "k_proj", "v_proj"),  # GPT-2, Qwen-1
    "qkv_proj": ("q_proj", "k_proj", "v_proj"),  # Phi-3
    "wqkv": ("q_proj", "k_proj", "v_proj"),  # InternLM2
    "gate_up_proj": ("gate_proj", "up_proj"),  # Phi-3
    "dense_h_to_4h": ("gate_proj", "up_proj"),  # ChatGLM2/3 (gated: gate and up in one Linear)
}


def fused_shared_inputs(arch: Architecture, user_targets: tuple[str, ...], targets: frozenset[str]) -> int:
    """Elements :func:`lora_params` counts too many (per unit of rank) when a target is a fused Linear:
    it counts one A matrix per Llama projection, PEFT one per fused module -- ``(k - 1) * h`` per layer
    for ``k`` projections sharing the module's input ``h``. Checked against PEFT's own counts on
    GPT-NeoX, Falcon, BLOOM and Phi-3 (``tests/test_training.py``)."""
    if arch.is_mla:
        return 0
    extra = 0
    for t in set(user_targets) & set(_FUSED):
        held = [m for m in _FUSED[t] if m in targets]
        if len(held) < 2:
            continue
        attention = held[0] in ("q_proj", "k_proj", "v_proj")
        layers = arch.n_attention_layers if attention else arch.n_layers - arch.n_moe_layers
        extra += (len(held) - 1) * arch.hidden_size * layers
    return extra


def lora_params(arch: Architecture, targets: frozenset[str], rank: int) -> int:
    """LoRA parameters: ``rank * (in + out)`` for every adapted Linear (the A and B matrices).

    ``targets`` as :func:`resolve_lora_targets` returns them. Attention and dense-MLP Linears are
    counted over the layers that have them (MoE layers have no dense MLP; interleaved and listed
    dense layers do). On each MoE layer, with E experts of size f: per-expert Linears ``r*(h + f)``
    each; fused experts (PEFT ``ParamWrapper`` keeps A ``[E*r, in]`` and B ``[out, E*r]``)
    ``E*r*(h + 2f)`` for ``gate_up_proj`` (doubled at rank ``2r``) and ``E*r*(f + h)`` for
    ``down_proj``; the router ``r*(h + E)``; the shared experts' Linears ``r*(h + n_s*f_s)``;
    Qwen2-MoE's shared-expert gate ``r*(h + 1)``.
    """
    total = 0
    h = arch.hidden_size
    moe_layers = arch.n_moe_layers
    for s in linear_shapes(arch):
        name = s.name
        if name.startswith("expert_"):
            continue  # counted below, by layout
        if name.startswith("shared_") and name != "shared_expert_gate":
            name = "shared." + name.removeprefix("shared_")
        if name in targets:
            total += s.count * (s.in_features + s.out_features)
    if moe_layers:
        assert arch.expert_ffn_size is not None
        f, n_e = arch.expert_ffn_size, arch.n_experts
        per_layer = 0
        for proj, size in (("gate_proj", h + f), ("up_proj", h + f), ("down_proj", f + h)):
            if "experts." + proj in targets:
                per_layer += n_e * size
        if "fused_experts.gate_up_proj" in targets:
            per_layer += n_e * (h + 2 * f)
        if "fused_experts.gate_up_proj(2r)" in targets:
            per_layer += 2 * n_e * (h + 2 * f)
        if "fused_experts.down_proj" in targets:
            per_layer += n_e * (f + h)
        total += moe_layers * per_layer
    # The LM head (h -> V) and the embeddings (A [r, V], B [h, r]) when named.
    total += sum(h + arch.vocab_size for m in _OUTER if m in targets)
    return rank * total


def prefix_params(arch: Architecture, tokens: int, projection: bool) -> int:
    """Trainable parameters of PEFT prefix tuning / P-Tuning v2 (``PrefixEncoder``)."""
    token_dim = arch.n_kv_heads * arch.head_dim
    out = arch.n_layers * 2 * token_dim
    if not projection:
        return tokens * out
    hidden = token_dim  # PEFT's default encoder_hidden_size
    return tokens * token_dim + (token_dim * hidden + hidden) + (hidden * out + out)


#: bitsandbytes pages the state of a tensor only when it has at least this many elements
#: (``Optimizer8bit.get_state_buffer``: smaller ones are plain ``torch.zeros_like``).
_PAGE_MIN_ELEMENTS = 100_000


def _paged_fraction(
    w: FineTune, tensors: list[tuple[int, int]], saved_params: int, trainable: int | None = None
) -> float:
    """The share of the optimizer states a paged bitsandbytes optimizer keeps in paged (CUDA unified)
    memory, outside torch's caching allocator: the states of tensors with >= 1e5 elements.

    ``tensors``: ``(elements of one tensor, how many)``; ``saved_params``: full-size module copies
    (always paged); ``trainable``: the total when ``tensors`` lists only the large ones.
    """
    if not w.optimizer.startswith("paged-"):
        return 0.0
    big = sum(n * c for n, c in tensors if n >= _PAGE_MIN_ELEMENTS) + saved_params
    total = trainable + saved_params if trainable is not None else sum(n * c for n, c in tensors) + saved_params
    return min(big / total, 1.0) if total else 0.0


def _adapted_shapes(arch: Architecture, targets: frozenset[str]) -> list[tuple[int, int, int]]:
    """``(in_features, out_features, count)`` of every adapted Linear (dense names, per-expert Linears, head)."""
    out: list[tuple[int, int, int]] = []
    for s in linear_shapes(arch):
        name = s.name
        if name.startswith("expert_"):
            name = "experts." + name.removeprefix("expert_")
        elif name.startswith("shared_") and name != "shared_expert_gate":
            name = "shared." + name.removeprefix("shared_")
        if name in targets:
            out.append((s.in_features, s.out_features, s.count))
    if "lm_head" in targets:
        out.append((arch.hidden_size, arch.vocab_size, 1))
    return out


def _lora_tensors(arch: Architecture, targets: frozenset[str], rank: int) -> list[tuple[int, int]]:
    """``(elements, count)`` of the LoRA A and B matrices (fused expert adapters count as one large tensor)."""
    out = [(rank * i, c) for i, _, c in _adapted_shapes(arch, targets)]
    out += [(rank * o, c) for _, o, c in _adapted_shapes(arch, targets)]
    if "embed_tokens" in targets:
        out += [(rank * arch.vocab_size, 1), (rank * arch.hidden_size, 1)]
    if any(t.startswith("fused_experts.") for t in targets):
        out.append((_PAGE_MIN_ELEMENTS, 1))
    return out


def _dora_magnitudes(arch: Architecture, targets: frozenset[str]) -> int:
    """DoRA's magnitude vectors: ``out_features`` per adapted Linear, ``h`` for adapted embeddings."""
    if any(t.startswith("fused_experts.") for t in targets):
        raise WorkloadError(
            "dora=True: PEFT does not support DoRA on fused expert parameters (target_parameters / ParamWrapper); "
            "leave the experts out of lora_targets or use moe_layout='transformers-4'"
        )
    return sum(o * c for _, o, c in _adapted_shapes(arch, targets)) + (
        arch.hidden_size if "embed_tokens" in targets else 0
    )


def _dora_transient(arch: Architecture, targets: frozenset[str], w: FineTune, pbytes: float, e: float) -> int:
    """Bytes DoRA allocates for one adapted Linear while it computes its weight norm (PEFT
    ``DoraLinearLayer.get_lora_weight`` / ``get_weight_norm``), the largest adapted Linear counting.

    ``B @ A`` is built as ``lora_B(lora_A(eye(in)))``: ``lora_A`` keeps the ``in x in`` identity for
    its weight's gradient (in the adapter dtype, or its bf16 cast under autocast) while the graph of
    ``lora_weight`` lives; ``lora_weight`` (``out x in``) is cast to the input's dtype ``x`` (fp32
    when the adapters are fp32: PEFT casts the input to the adapter dtype), so is the base weight
    (a new tensor when the dtype differs, or when it is dequantized), and ``scaling * lora_weight``
    and ``W + scaling * lora_weight`` are two more: ``in^2 * eye + out * in * (3 x [+ x])`` bytes.
    Checked against the traced PEFT code (tests/test_accuracy_peft.py).
    """
    xb = 4.0 if pbytes == 4.0 else e
    eye = 2.0 if (pbytes == 4.0 and e < 4 and w.uses_autocast) else pbytes
    weight_copy = xb if (xb != e or w.quantized_base) else 0.0
    return math.ceil(
        max((i * i * eye + o * i * (3 * xb + weight_copy) for i, o, _ in _adapted_shapes(arch, targets)), default=0)
    )


@attrs.frozen(kw_only=True)
class _Plan:
    """Who is trained and how everything is stored."""

    trainable: int  # trainable parameters
    trainable_bytes: int  # their storage
    frozen_bytes: int  # frozen storage
    param_bytes: float  # bytes per trainable parameter (its dtype: also of its gradient and states)
    residual_bytes: float  # dtype of the residual stream
    amp: bool = False  # autocast over fp32 block weights (full/freeze with mixed precision)
    autocast_bytes: int = 0  # bf16 copies of fp32 Linear weights autocast keeps for backward
    first_grad_layer: int = 0  # layers before it keep nothing for backward
    trained: frozenset[str] = frozenset()  # modules whose weights are trained ("norm" too) ...
    first_trained_layer: int = 0  # ... in the layers from this one on (the last k for freeze tuning)
    lora: frozenset[str] = frozenset()  # adapted modules (every layer)
    embeddings_trainable: bool = False
    head_trainable: bool = False
    quant_transient: int = 0  # QLoRA: one dequantized weight matrix at a time
    quant_keeps_input: bool = False  # bitsandbytes MatMul4Bit/8bit keep their input when it needs a gradient
    int8_saved_per_in: float = 0.0  # LLM.int8 <= 0.44: the int8 input copy (CAt) each Linear keeps, bytes/token/in
    quant_forward_per_token: float = 0.0  # LLM.int8: the largest Linear's forward temporaries (memory/bnb_int8.py)
    quant_backward_per_token: float = 0.0  # LLM.int8 <= 0.44: its backward's quantized gradient (Cgrad, Cgradt)
    dora_transient: int = 0  # DoRA: the weight-norm temporaries of one adapted Linear (forward, and recompute)
    adapter_bytes: float = 2.0  # bytes/element of each fp32 adapter's input copy (2 under autocast, 4 without)
    adapted_layers: int = 0  # LLaMA-Adapter: the top layers with adaption prompts
    paged_fraction: float = 0.0  # share of the optimizer states bitsandbytes pages (outside torch's allocator)
    state_bytes: float = 4.0  # bytes per optimizer-state element
    master_bytes: float = 0.0  # bytes per trainable parameter of separate fp32 master weights
    deepspeed: bool = False  # DeepSpeed mixed precision (16-bit model, fp32 optimizer)
    copies: int = 0  # modules_to_save elements kept in copy_bytes, not param_bytes (FineTune.copies_precision)
    copy_bytes: float = 0.0  # their bytes per element (also of their gradients and torch.optim states)


def _copies_in_own_dtype(w: FineTune, saved_params: int, pbytes: float, deepspeed: bool) -> dict[str, Any]:
    """The ``_Plan`` fields for ``modules_to_save`` copies kept in ``w.copies_precision`` (empty when they
    share the trainable dtype). PEFT's ``ModulesToSaveWrapper`` deep-copies the module in the model's dtype
    and its ``autocast_adapter_dtype`` upcasts adapter layers only; DeepSpeed casts the whole model to 16
    bits, and one FSDP flat parameter holds one dtype, so neither keeps them apart."""
    if not saved_params or w.copies_precision is None or deepspeed or w.parallelism.fsdp != "none":
        return {}
    copy_bytes = DTYPE_BYTES[w.copies_precision]
    return {} if copy_bytes == pbytes else {"copies": saved_params, "copy_bytes": copy_bytes}


@functools.lru_cache(maxsize=2048)
def _plan(arch: Architecture, w: FineTune) -> _Plan:
    """Who trains, in which dtype, and how states are kept.

    Regimes: HF AMP (``mixed_precision``: fp32 trainable parameters, gradients and states,
    autocast copies of fp32 Linear weights); pure precision (everything in the compute dtype);
    DeepSpeed (``zero_stage`` > 0 with 16-bit compute: DeepSpeed's bf16/fp16 modes cast the whole
    model to 16 bits and keep fp32 master weights and fp32 optimizer states inside the optimizer,
    ZeRO paper arXiv 1910.02054 section 3 -- whatever ``mixed_precision`` says).
    """
    pb = param_breakdown(arch)
    e = DTYPE_BYTES[w.precision]
    total = pb.total
    L = arch.n_layers
    everything = frozenset((*LORA_MODULES, "norm", "experts"))
    deepspeed = w.parallelism.zero_stage > 0
    # FSDP with a MixedPrecision policy: parameters sharded in their own dtype (fp32 with mixed_precision),
    # gathered in param_dtype for compute; no autocast, so no autocast weight copies (memory/sharding.py).
    fsdp_policy = w.parallelism.fsdp != "none" and w.parallelism.fsdp_param_dtype is not None
    mixed = w.is_mixed and not deepspeed
    amp = mixed and not fsdp_policy
    pbytes = 4.0 if (mixed or (deepspeed and w.precision == "fp32")) else e
    fb = DTYPE_BYTES[w.frozen_precision] if w.frozen_precision else e  # frozen weights' bytes per element
    # litgpt's "bf16-mixed": frozen fp32 weights under autocast -- each Linear's bf16 copy is kept for backward.
    frozen_amp = fb == 4.0 and e < 4 and w.uses_autocast and not fsdp_policy
    state_bytes = 4.0 if (mixed or deepspeed) else e
    # DeepSpeed keeps an fp32 partition of the trainable parameters apart from the model's, even when the
    # model is fp32 (stage_1_and_2.py single_partition_of_fp32_groups, stage3.py fp32_partitioned_groups_flat).
    master_bytes = 4.0 if deepspeed else 0.0

    def plan(trainable: int, frozen_bytes: int, **differences: Any) -> _Plan:
        """The plan of every method: only what differs from a frozen, unadapted model is passed."""
        copies, copy_bytes = differences.get("copies", 0), differences.get("copy_bytes", 0.0)
        return _Plan(
            trainable=trainable,
            trainable_bytes=math.ceil((trainable - copies) * pbytes + copies * copy_bytes),
            frozen_bytes=frozen_bytes,
            param_bytes=pbytes,
            residual_bytes=differences.pop("residual_bytes", e),
            adapter_bytes=(2.0 if w.uses_autocast else 4.0) if mixed and e < 4 else e,
            state_bytes=state_bytes,
            master_bytes=master_bytes,
            deepspeed=deepspeed,
            **differences,
        )

    if w.method == "full":
        return plan(
            total,
            0,
            amp=amp,
            autocast_bytes=math.ceil(2 * (pb.linear + pb.lm_head)) if amp else 0,
            residual_bytes=pbytes if not fsdp_policy else e,
            trained=everything,
            embeddings_trainable=True,
            head_trainable=True,
            paged_fraction=_paged_fraction(w, [(total - pb.norms, 1), (pb.norms, 0)], 0),
        )
    if w.method == "freeze":
        k = min(w.trainable_layers, L)
        # The last k layers, dense and MoE counted apart (interleaved or listed dense layers).
        n_moe = moe_layers_in(arch, L - k, L)
        linear = k * attention_params_per_layer(arch) + n_moe * layer_mlp_params(arch, moe=True)
        linear += (k - n_moe) * layer_mlp_params(arch, moe=False)
        trainable = linear + k * norm_params(arch) * arch.norms_per_layer
        return plan(
            trainable,
            math.ceil((total - trainable) * fb),
            amp=amp,
            autocast_bytes=math.ceil(2 * linear) if amp else 0,
            first_grad_layer=L - k,
            trained=everything,
            first_trained_layer=L - k,
            paged_fraction=_paged_fraction(w, [(linear, 1)], 0, trainable),
        )
    frozen = math.ceil(total * fb)
    quant_transient = 0
    rest = fb
    base = w.quantized_base
    biggest = max(s.in_features * s.out_features for s in linear_shapes(arch))
    if base is not None:
        fmt = FORMATS[base]
        q_bytes, q_elems = quantized_linear_bytes(arch, fmt.name)
        if base in ("int8", "int4"):
            # ChatGLM's built-in weight-only quantization (quantization.py QuantizedLinear): the block Linears'
            # weights in 8 or 4 bits with one fp16 scale per output row; embeddings and head stay fp16.
            bits = 8 if base == "int8" else 4
            shapes = linear_shapes(arch)
            q_elems = sum(sh.in_features * sh.out_features * sh.count for sh in shapes)
            q_bytes = math.ceil(q_elems * bits / 8) + sum(2 * sh.out_features * sh.count for sh in shapes)
        # PEFT's prepare_model_for_kbit_training casts the other frozen parameters to fp32 on the bases it
        # prepares (bitsandbytes, GPTQ, AWQ); ChatGLM's built-in quantization keeps them in fp16.
        rest = 4.0 if (w.upcast_non_quantized and base in KBIT_BASES) else fb
        frozen = q_bytes + math.ceil((total - q_elems) * rest)
        # One weight dequantized per matmul: to the compute dtype (bitsandbytes 4-bit, ChatGLM's
        # extract_weight_to_half); LLM.int8 backward copies its int8 weight to the input dtype
        # (MatMul8bitLt: state.CB.to(dtype_A, copy=True)), after an int8 copy in bitsandbytes <= 0.44 (undo_layout).
        quant_transient = math.ceil(biggest * e)
        if base in ("int8", "int4"):
            # ChatGLM's W8A16Linear.backward dequantizes the largest (fused) weight again and computes
            # grad_weight = grad_output.t().mm(inp) for the frozen int weight too: two weight-sized tensors.
            quant_transient = math.ceil(chatglm_largest_linear(arch) * 2 * e)
        if w.framework == "litgpt" and fmt.method == "bitsandbytes":
            # litgpt quantizes its own (untied) LM head with every Linear, from fp16 copies: dequantized in
            # fp16 and cast to the compute dtype in each matmul (memory/litgpt.py).
            frozen += litgpt_head_bytes(arch, fmt, w.precision)
            quant_transient = max(quant_transient, litgpt_dequantize_bytes(arch, fmt, w.precision))
    keeps_input = base is not None and (base.startswith("bnb-") or base in ("int8", "int4"))
    quant: dict[str, Any] = {"quant_transient": quant_transient, "quant_keeps_input": keeps_input}
    if base == "bnb-int8":
        # LLM.int8 by bitsandbytes release (memory/bnb_int8.py): what MatMul8bitLt keeps and makes.
        terms = int8_matmul_terms(w.bitsandbytes_version)
        forward, backward = int8_forward_transient_per_token(arch, terms)
        quant = {
            "quant_transient": max(quant_transient, math.ceil(biggest * (e + terms.weight_extra))),
            "quant_keeps_input": terms.keeps_input,
            "int8_saved_per_in": terms.saved_per_in,
            "quant_forward_per_token": forward,
            "quant_backward_per_token": backward,
        }
    saved = set(w.modules_to_save) | ({"embed_tokens", "lm_head"} if w.train_embeddings else set())
    saved_params = (pb.embedding if "embed_tokens" in saved else 0) + (pb.lm_head if "lm_head" in saved else 0)
    if "lm_head" in saved and arch.tied_embeddings and "embed_tokens" not in saved:
        saved_params += pb.embedding  # a tied head is the embedding matrix: PEFT copies it
    copies = _copies_in_own_dtype(w, saved_params, pbytes, deepspeed)
    amp_frozen: dict[str, Any] = (
        {"amp": True, "autocast_bytes": math.ceil(2 * (pb.linear + pb.lm_head)), "residual_bytes": 4.0}
        if frozen_amp
        else {}
    )
    if base is not None and rest == 4.0 and e < 4 and w.uses_autocast and not frozen_amp:
        # prepare_model_for_kbit_training's fp32 embeddings, norms and head under autocast: the residual
        # stream is fp32 (fp32 embedding output + 16-bit sublayer outputs), so are checkpointed layer
        # inputs; the head's 16-bit autocast copy is kept for backward (traced: tests/test_accuracy_peft.py).
        amp_frozen = {"autocast_bytes": math.ceil(2 * (pb.lm_head or pb.embedding)), "residual_bytes": 4.0}
    if w.method == "llama-adapter":
        # PEFT AdaptionPromptConfig: an adaption prompt [1, adapter_len, h] and a zero-init gate per adapted layer.
        n = min(w.adapter_layers or L, L)
        trainable = n * (w.adapter_len * arch.hidden_size + 1) + saved_params
        return plan(
            trainable,
            frozen,
            first_grad_layer=L - n - 1 if n < L else 0,
            adapted_layers=n,
            embeddings_trainable="embed_tokens" in saved,
            head_trainable="lm_head" in saved,
            paged_fraction=_paged_fraction(w, [(w.adapter_len * arch.hidden_size, n)], saved_params),
            **quant,
            **amp_frozen,
            **copies,
        )
    if w.method in ("lora", "qlora"):
        # FineTune may carry the expert layout (``moe_layout``); the module default otherwise.
        targets = resolve_lora_targets(arch, w.lora_targets, moe_layout=w.moe_layout)
        trainable = lora_params(arch, targets, w.lora_rank) - w.lora_rank * fused_shared_inputs(
            arch, w.lora_targets, targets
        )
        if not trainable and not saved_params:
            raise WorkloadError(
                f"lora_targets={list(w.lora_targets)} adapt no Linear of this {arch.family} model "
                "(PEFT raises 'Target modules ... not found'); name its own modules, or use 'all-linear'"
            )
        dora_transient = _dora_transient(arch, targets, w, pbytes, e) if w.dora else 0
        if w.dora:
            # DoRA (Liu et al., arXiv 2402.09353; PEFT use_dora): a magnitude vector of out_features per adapted Linear.
            trainable += _dora_magnitudes(arch, targets)
        lora_trainable = trainable
        # PEFT modules_to_save: trainable copies of the embeddings and/or the LM head (the originals stay, frozen).
        trainable += saved_params
        block_targets = targets - set(_OUTER)
        return plan(
            trainable,
            frozen,
            first_grad_layer=0 if (block_targets or saved or "embed_tokens" in targets) else L,
            lora=targets,
            embeddings_trainable="embed_tokens" in saved or "embed_tokens" in targets,
            head_trainable="lm_head" in saved,
            dora_transient=dora_transient,
            **quant,
            paged_fraction=_paged_fraction(w, _lora_tensors(arch, targets, w.lora_rank), saved_params, lora_trainable),
            **amp_frozen,
            **copies,
        )
    # p-tuning-v2 / prefix-tuning: every layer's keys and values get trainable prefixes.
    n_prefix = prefix_params(arch, w.prefix_tokens, w.prefix_projection)
    return plan(
        n_prefix + saved_params,
        frozen,
        embeddings_trainable="embed_tokens" in saved,
        head_trainable="lm_head" in saved,
        paged_fraction=_paged_fraction(w, [(n_prefix, 1)], saved_params),
        **quant,
        **amp_frozen,
        **copies,
    )


def _dora_saved(
    arch: Architecture, w: FineTune, plan: _Plan, lora: frozenset[str], moe_layer: bool, input_grad: bool
) -> tuple[float, float]:
    """What DoRA adds to one layer's saved set: (bytes per token, bytes independent of tokens).

    PEFT ``DoraLinearLayer.forward``: ``(m / ||W + sBA|| - 1) * base_result + m / ||W + sBA|| * lora_result * s``
    keeps ``base_result`` (the base layer's output, compute dtype) and ``lora_result`` (the adapter
    dtype without autocast, bf16 under it) for the magnitude's gradient: ``out * (e + e_adapter)`` per
    token. With dropout the base output is recomputed as ``F.linear(x, W.to(x.dtype))``: when that
    cast (or a dequantization) makes a new ``out x in`` tensor it is kept for the input's gradient.
    """
    e = DTYPE_BYTES[w.precision]
    e_adapter = plan.adapter_bytes if w.is_mixed else e
    xb = 4.0 if (w.is_mixed and e < 4) else e
    copies = w.lora_dropout > 0 and (xb != e or w.quantized_base is not None)
    shapes = {s.name: (s.in_features, s.out_features) for s in linear_shapes(arch)}
    names = [n for n in (*_attention_names(arch), *(() if moe_layer else _MLP)) if n in lora and n in shapes]
    per_token = sum(shapes[n][1] * (e + e_adapter) for n in names)
    fixed = sum(shapes[n][0] * shapes[n][1] * xb for n in names) if copies and input_grad else 0.0
    return per_token, fixed


def _norm_saved(arch: Architecture, plan: _Plan, e: float, grad_in: bool, trained: bool) -> float:
    """Per-token bytes a norm keeps: RMSNorm its fp32 input copy (+ the normalised input if its
    weight trains); LayerNorm its input (``native_layer_norm`` backward)."""
    h = arch.hidden_size
    if arch.norm == "rmsnorm":
        return (4 * h if grad_in else 0) + ((4 if plan.amp else e) * h if trained else 0)
    return plan.residual_bytes * h if (grad_in or trained) else 0.0


def _layer_saved(
    arch: Architecture, w: FineTune, plan: _Plan, layer: int, moe_layer: bool | None = None
) -> tuple[float, float]:
    """What layer ``layer`` (a MoE layer when ``moe_layer``) keeps for backward: (bytes per token,
    bytes independent of tokens). Only ``layer``'s place relative to the first trained and first
    gradient layers matters, so one call stands for a whole run of layers of its kind; without
    ``moe_layer`` the layer's own kind (:meth:`Architecture.is_moe_layer`)."""
    if moe_layer is None:
        moe_layer = arch.is_moe_layer(layer)
    e = DTYPE_BYTES[w.precision]
    h, d = arch.hidden_size, arch.head_dim
    q, kv = arch.n_heads * d, arch.n_kv_heads * d
    trained = plan.trained if layer >= plan.first_trained_layer else frozenset()
    lora, amp = plan.lora, plan.amp
    lora_r = w.lora_rank * (4 if w.is_mixed else e)
    prefix = w.method in ("p-tuning-v2", "prefix-tuning")

    def needs(m: str) -> bool:
        return m in trained or m in lora

    block_linears = {s.name for s in linear_shapes(arch)} if plan.int8_saved_per_in else set()

    def linear_inputs(names: tuple[str, ...], in_features: int, fp32_input: bool, grad: bool) -> float:
        """Bytes per token the Linears ``names`` (all reading one input) keep for backward."""
        # The base layer keeps its input when its weight trains, or when bitsandbytes' matmul
        # (which saves its input whenever that input needs a gradient) runs it.
        base = [m for m in names if m in trained or (plan.quant_keeps_input and grad)]
        out = 0.0
        shared = False
        if fp32_input:
            out += 2 * in_features * len(base)  # autocast: each Linear casts its fp32 input to bf16
        elif base:
            shared = True
        if plan.int8_saved_per_in and grad:
            # LLM.int8 (bitsandbytes <= 0.44) keeps an int8 copy of the input per Linear (ctx.tensors = (CAt, ...)).
            out += plan.int8_saved_per_in * in_features * sum(1 for m in names if m in block_linears)
        for m in names:
            if m not in lora:
                continue
            out += lora_r  # the adapter's rank-r intermediate
            if w.lora_dropout > 0:
                # each adapter drops out its own copy (PEFT casts it to the adapter dtype first):
                # the dropout mask (1 byte) and the dropped input the A matrix keeps
                out += in_features * (1 + (plan.adapter_bytes if w.is_mixed else e))
            elif w.is_mixed:
                # fp32 adapter: PEFT casts the input to fp32 (_cast_input_dtype); under autocast lora_A keeps
                # its own bf16 copy of it, without autocast the fp32 copy itself (adapter_bytes 2 or 4)
                out += plan.adapter_bytes * in_features
            else:
                shared = True
        return out + (e * in_features if shared else 0.0)

    input_grad = layer > plan.first_grad_layer or (layer == 0 and plan.embeddings_trainable)
    per_token = fixed = 0.0
    if w.dora and lora:
        per_token_dora, fixed = _dora_saved(arch, w, plan, lora, moe_layer, input_grad)
        per_token += per_token_dora
    # Attention: norm, Q/K/V inputs, SDPA's saved set, O input.
    attn_grad = input_grad or prefix or any(needs(m) for m in ("q_proj", "k_proj", "v_proj", *_MLA))
    per_token += _norm_saved(arch, plan, e, input_grad, "norm" in trained)
    # A parallel block's MLP Linears read the same normalised input as Q/K/V.
    readers = (
        ("q_proj", "k_proj", "v_proj", "gate_proj", "up_proj")
        if arch.parallel_block
        else ("q_proj", "k_proj", "v_proj")
    )
    per_token += linear_inputs(readers, h, fp32_input=amp, grad=input_grad)
    if attn_grad:
        kv_len = (w.seq_len + w.prefix_tokens) / w.seq_len if prefix else 1.0
        per_token += e * (2 * q + 2 * kv * kv_len) + 4 * arch.n_heads  # Q, output, K, V + fp32 log-sum-exp
        if w.attention == "eager":
            per_token += arch.n_heads * (w.seq_len + (w.prefix_tokens if prefix else 0)) * (4 + e)
    per_token += linear_inputs(("o_proj",), q, fp32_input=False, grad=attn_grad)
    # MLP: in a parallel block it reads the layer's normalised input, not the attention output.
    # LLaMA-Adapter adds a trainable branch to the attention output: the MLP after it needs gradients.
    adapted = plan.adapted_layers > 0 and layer >= arch.n_layers - plan.adapted_layers
    mlp_in_grad = input_grad if arch.parallel_block else (input_grad or attn_grad or adapted)
    if not arch.parallel_block:
        per_token += _norm_saved(arch, plan, e, mlp_in_grad, "norm" in trained)
        per_token += linear_inputs(
            ("gate_proj", "up_proj") if not moe_layer else ("router",), h, fp32_input=amp, grad=mlp_in_grad
        )
    mlp_grad = mlp_in_grad or any(needs(m) for m in (_MOE_NAMES if moe_layer else _MLP))
    if mlp_grad:
        if moe_layer:
            assert arch.expert_ffn_size is not None
            assert arch.n_experts_per_token is not None
            fe, k = arch.expert_ffn_size, arch.n_experts_per_token
            expert_trained = any(needs(m) for m in (*_EXPERT_LINEARS, *_FUSED_EXPERTS))
            # per routed token: the fused gate/up output (kept whole by the activation's view),
            # act(gate), the expert output (for the fp32 routing-weight product);
            # trained experts also keep the gathered input and the down projection's input.
            slot = 3 * e * fe + e * h + ((e * h + e * fe) if expert_trained else 0)
            per_token += k * slot + 4 * arch.n_experts
            # PEFT's ParamWrapper materialises W + BA of the fused expert weights it adapts and keeps
            # it for backward: one copy of the layer's gate_up_proj (2*f*h per expert) and/or down_proj.
            fused = (2 if any(m.startswith("fused_experts.gate_up") for m in lora) else 0) + (
                1 if "fused_experts.down_proj" in lora else 0
            )
            fixed += arch.n_experts * fused * fe * h * e
            if arch.n_shared_experts:
                fs = (arch.shared_expert_ffn_size or fe) * arch.n_shared_experts
                per_token += 3 * e * fs + linear_inputs(("down_proj",), fs, fp32_input=False, grad=True)
        elif arch.mlp == "gated":
            per_token += 3 * e * arch.ffn_size  # gate output, act(gate), up
            per_token += linear_inputs(("down_proj",), arch.ffn_size, fp32_input=False, grad=True)
        else:
            chain = 4 if _gelu_chain(arch, w.framework) else 1  # NewGELU keeps x, tanh, 0.5x, 1+tanh
            per_token += chain * e * arch.ffn_size
            per_token += linear_inputs(("down_proj",), arch.ffn_size, fp32_input=False, grad=True)
    return per_token, fixed


@functools.lru_cache(maxsize=2048)
def _layer_profile(arch: Architecture, w: FineTune) -> tuple[float, float, float, float, float]:
    """Per-token bytes of the layers (sum, max incl. fixed), fixed bytes (sum, max), tail bytes.

    Cached: ``w`` arrives without batch size and GPU counts (:func:`_shape`), which do not change them.
    """
    plan = _plan(arch, w)
    e = DTYPE_BYTES[w.precision]
    L = arch.n_layers
    # Layers fall into a few kinds (first layer, no gradient yet, trained or not, dense or MoE);
    # within a run of layers between the first three boundaries every layer of one kind keeps the
    # same set, and the MoE layers of a run are counted (moe_layers_in: leading dense layers,
    # interleave steps, listed dense layers), so the sum goes over runs and kinds, never over single
    # layers (a model may claim any number of layers).
    cuts = {0, 1, plan.first_grad_layer + 1, plan.first_trained_layer, L}
    bounds = sorted(c for c in cuts if 0 <= c <= L)
    per_token_sum = fixed_sum = 0.0
    per_token_max = fixed_max = 0.0
    for start, stop in itertools.pairwise(bounds):
        n_moe = moe_layers_in(arch, start, stop)
        for moe, count in ((False, stop - start - n_moe), (True, n_moe)):
            if count <= 0:
                continue
            pt, fx = _layer_saved(arch, w, plan, start, moe)
            per_token_sum += pt * count
            fixed_sum += fx * count
            per_token_max = max(per_token_max, pt)
            fixed_max = max(fixed_max, fx)
    final_norm = _norm_saved(arch, plan, e, True, plan.head_trainable and w.method == "full")
    tail = final_norm + (e * arch.hidden_size if plan.head_trainable else 0)
    if "lm_head" in plan.lora:  # the head's adapter keeps its own input copy and its rank-r intermediate
        tail += (plan.adapter_bytes if w.is_mixed else e) * arch.hidden_size + w.lora_rank * (4 if w.is_mixed else e)
    return per_token_sum, per_token_max, fixed_sum, fixed_max, tail


@functools.lru_cache(maxsize=4096)
def _shape(w: FineTune) -> FineTune:
    """``w`` without what only scales the result (micro-batch, GPU counts): a cache key (itself cached:
    building a workload runs its validators)."""
    p = w.parallelism
    if w.batch_size == 1 and p.n_gpus == 1 and not (p.offload_optimizer or p.offload_params):
        return w
    plan_p = _plan_parallelism(p.zero_stage, p.fsdp, p.fsdp_param_dtype)
    # Workloads differing only in those settings (a sweep over batch sizes or GPU counts) share one
    # shape, built once: its field values are the key.
    values = tuple(1 if n == "batch_size" else plan_p if n == "parallelism" else getattr(w, n) for n in _FIELDS)
    return _shape_of(values)


#: FineTune's fields, in order (each is its own ``__init__`` keyword: none is private or aliased).
_FIELDS = tuple(a.name for a in attrs.fields(FineTune))


@functools.lru_cache(maxsize=4096)
def _shape_of(values: tuple[Any, ...]) -> FineTune:
    """The workload with these field values: what ``attrs.evolve`` would build, once per distinct shape."""
    return FineTune(**dict(zip(_FIELDS, values, strict=True)))


@functools.lru_cache(maxsize=64)
def _plan_parallelism(zero_stage: int, fsdp: str, fsdp_param_dtype: str | None) -> Parallelism:
    """The part of a parallelism that changes the plan (the rest only scales it)."""
    return Parallelism(
        zero_stage=zero_stage, fsdp=fsdp if fsdp != "hybrid-shard" else "full-shard", fsdp_param_dtype=fsdp_param_dtype
    )


def _loss_bytes(arch: Architecture, w: FineTune, plan: _Plan, tokens: int) -> float:
    """Bytes the loss holds at the start of backward, by ``w.loss``:

    - ``full-logits`` (transformers ``ForCausalLMLoss``): the fp32 log-softmax output, the gradient
      flowing into it and out of it: ``12 * V`` per token;
    - ``chunked-output`` (torchtune ``LinearCrossEntropyLoss``, 8 chunks): every chunk's fp32
      log-softmax output stays saved (``4 * V`` per token) and one chunk's gradients are built at a time;
    - ``chunked-tokens`` (TRL ``chunked_nll``): checkpointed chunks of 256 tokens, ``12 * V`` per chunk token;
    - ``fused-linear`` (Liger ``LigerFusedLinearCrossEntropyLoss``, unsloth): chunks of
      ``next_pow2(ceil(tokens / ceil(V / h)))`` tokens, plus the input gradient ``e * h`` per token.
    """
    V, h = arch.vocab_size, arch.hidden_size
    e = DTYPE_BYTES[w.precision]
    if w.loss == "full-logits":
        # fp32 logits (FineTune.fp32_logits): the 16-bit logits, the fp32 copy log_softmax reads, its output
        # and then the gradients flowing in and out of it, 12*V bytes per token. Without the upcast (Qwen-1's
        # remote code under DeepSpeed: ``CrossEntropyLoss()(lm_logits[..., :-1, :].contiguous(), ...)`` on
        # 16-bit logits) the logits, their shifted copy and log_softmax's output, in the compute dtype: 3*e*V.
        out = tokens * (12.0 if w.fp32_logits else 3 * e) * V
    elif w.loss == "chunked-output":
        out = tokens * 4.0 * V + math.ceil(tokens / 8) * 8.0 * V
    elif w.loss == "chunked-tokens":
        out = min(tokens, 256) * 12.0 * V
    else:
        chunk = 1 << max(math.ceil(tokens / math.ceil(V / h)) - 1, 0).bit_length()
        out = min(tokens, chunk) * 12.0 * V + tokens * e * h
    return out


def _kept_outputs(arch: Architecture, w: FineTune, tokens: int) -> int:
    """The plain loop's previous step: ``out.logits`` (compute dtype, transformers >= 4.46) and, when
    ``use_cache`` stays on (transformers turns it off under gradient checkpointing), the KV cache the
    forward built -- alive through the next step's forward, backward and optimizer step."""
    if w.loop != "plain":
        return 0
    e = DTYPE_BYTES[w.precision]
    kept = tokens * arch.vocab_size * e
    if not w.checkpointing:
        kept += tokens * arch.n_attention_layers * 2 * arch.n_kv_heads * arch.head_dim * e
    return math.ceil(kept)


def _activations(arch: Architecture, w: FineTune, plan: _Plan) -> tuple[int, int]:
    """(saved at the start of backward, extra peak on top of it), bytes for the micro-batch.

    The extra is the larger of the loss backward (:func:`_loss_bytes`) and a layer's backward
    (its recomputed activations under checkpointing, plus the gradients flowing through its MLP:
    about ``3*e*f + 4*e*h`` per token; through merged MoE expert weights, twice their size).
    ``offload_checkpoints`` (unsloth's gradient checkpointing) moves the layer inputs to CPU memory:
    two stay on the GPU (the one in flight and the next). LLaMA-Adapter's adapted layers keep, per
    token, the recomputed query (``q * e``) and the gated fp32 softmax over the adaption prompt with
    its casts (``n_heads * adapter_len * (4 + 2e)``; PEFT ``AdaptedAttention``).
    """
    tokens = w.batch_size * w.seq_len
    e = DTYPE_BYTES[w.precision]
    h = arch.hidden_size
    pt_sum, pt_max, fx_sum, fx_max, tail = _layer_profile(arch, _shape(w))
    f = arch.expert_ffn_size if arch.is_moe and arch.expert_ffn_size else arch.ffn_size
    # A layer's backward through merged expert weights (PEFT ParamWrapper) builds their gradient
    # from per-expert slices: ``select_backward`` materialises a full-size zero tensor per expert
    # before autograd sums them -- twice the layer's expert weights at once.
    layer_backward = tokens * (3 * e * f + 4 * e * h + plan.quant_backward_per_token) + 2 * fx_max
    # LLM.int8's forward temporaries (int8 input copies, the int32 product; memory/bnb_int8.py) in the largest Linear.
    int8_forward = tokens * plan.quant_forward_per_token
    adapter = 0.0
    if plan.adapted_layers:
        adapter = e * arch.n_heads * arch.head_dim + arch.n_heads * w.adapter_len * (4 + 2 * e)
    if w.checkpointing:
        kept_layers = arch.n_layers - (0 if plan.embeddings_trainable else 1) - max(plan.first_grad_layer, 0)
        if w.offload_checkpoints:
            kept_layers = min(kept_layers, 2)
        kept = plan.residual_bytes * h * max(min(kept_layers, arch.n_layers), 0)
        saved = tokens * (kept + tail)
        # DoRA's weight-norm temporaries come back when a layer is recomputed, before its gradients flow.
        recomputed = tokens * (pt_max + adapter) + fx_max
        layer_backward = max(layer_backward + recomputed, recomputed + max(plan.dora_transient, int8_forward))
    else:
        saved = tokens * (pt_sum + tail + adapter * plan.adapted_layers) + fx_sum
        # Without recomputation they occur in the forward pass, before the loss: never on top of it.
        layer_backward = max(layer_backward, plan.dora_transient, int8_forward)
    logits = _loss_bytes(arch, w, plan, tokens)
    return math.ceil(saved), math.ceil(max(logits, layer_backward))


def _two_dtype_adamw(plan: _Plan, n_temps: int) -> tuple[float, float]:
    """AdamW states and foreach temporaries when the ``modules_to_save`` copies have their own dtype.

    ``torch.optim`` keeps each state in its parameter's dtype, and ``_multi_tensor_adamw`` steps one
    ``(device, dtype)`` group at a time (``_group_tensors_by_device_and_dtype``). Its intermediates are loop
    variables, released only when the next group rebinds them: when the second group allocates its first
    intermediate, the first group's are all alive. With ``n`` intermediates per element (torch 2.0: 2) the
    peak is ``G1 + G2 + (n - 1) * max(G1, G2)`` whichever group comes first (replayed on the real PEFT
    tensors in tests/test_accuracy_peft.py).
    """
    copies = plan.copies * plan.copy_bytes
    adapters = (plan.trainable - plan.copies) * plan.state_bytes
    temp = copies + adapters + (n_temps - 1) * max(copies, adapters) if n_temps else 0.0
    return 2 * (copies + adapters), temp


def _optimizer_states(arch: Architecture, w: FineTune, plan: _Plan) -> tuple[int, int]:
    """(optimizer state bytes, step temporaries) before sharding."""
    n, sb = plan.trainable, plan.state_bytes
    opt = w.optimizer
    p = w.parallelism
    foreach = w.optimizer_impl == "foreach" and not plan.deepspeed  # DeepSpeed steps with its fused Adam
    if p.fsdp != "none" and p.fsdp_version == 1 and p.torch_version == "2.0":
        foreach = False  # torch 2.0 takes FSDP1's FlatParameter for a non-Parameter type: for-loop step
    if opt == "adamw":
        # torch 2.0's ``_multi_tensor_adamw`` keeps two parameter-sized intermediates alive at once
        # (``exp_avg_sq_sqrt = _foreach_sqrt(...)`` and the out-of-place ``denom = _foreach_add(..., eps)``);
        # torch >= 2.1 reuses the first in place (pytorch/pytorch PR #104898, issue #97712).
        n_temps = 2 if p.torch_version == "2.0" else 1
        states, temp = 2 * n * sb, (n_temps * n * sb if foreach else 0)
        if plan.copies:
            states, temp = _two_dtype_adamw(plan, n_temps if foreach else 0)
    elif opt in ("adamw-8bit", "paged-adamw-8bit"):
        states, temp = 2 * n * (1 + 4 / 256), 0
    elif opt == "paged-adamw-32bit":  # bitsandbytes PagedAdamW32bit: fp32 m and v whatever the parameter dtype
        states, temp = 2 * n * 4, 0
    elif opt == "sgd":
        states, temp = 0, 0
    elif opt == "sgd-momentum":
        states, temp = n * sb - plan.copies * (sb - plan.copy_bytes), 0
    elif opt == "lion":
        one = n * sb - plan.copies * (sb - plan.copy_bytes)
        states, temp = one, (one if foreach else 0)
    else:  # adafactor: a row and a column accumulator (fp32) per matrix instead of a full moment
        states, temp = 4 * 2 * n / max(arch.hidden_size, 1), 0
    if plan.deepspeed:
        # The fp32 copy of the gradient partition the optimizer steps with, made from a flattened 16-bit
        # copy: ``self.flatten(self.averaged_gradients[i]).to(fp32)`` (stage_1_and_2.py ``step``, stage3.py
        # ``_prepare_fp32_grad_for_sub_group``) holds both for a moment: 4 + 2 bytes per element.
        temp += (4 + DTYPE_BYTES[w.precision]) * n
    return math.ceil(states), math.ceil(temp)


@functools.lru_cache(maxsize=2048)
def _largest_module(arch: Architecture) -> int:
    """Parameters of the largest module DeepSpeed ZeRO-3 gathers at once: the LM head or embeddings, or a
    layer's largest Linear (a fused MoE expert tensor counts whole)."""
    biggest = max((s.in_features * s.out_features for s in linear_shapes(arch)), default=0)
    return max(arch.vocab_size * arch.hidden_size, biggest)


@functools.lru_cache(maxsize=4096)
def _sharding_buffers(arch: Architecture, w: FineTune) -> int:
    """Gather and bucket buffers of ZeRO / FSDP per GPU (:mod:`llmcatalog.memory.sharding`); cached per
    (architecture, workload): they depend on the setting alone."""
    p = w.parallelism
    if p.shard_stage == 0:
        return 0
    plan = _plan(arch, _shape(w))
    e = DTYPE_BYTES[w.precision]
    pb = param_breakdown(arch)
    if p.fsdp == "none":
        return deepspeed_buffer_bytes(
            p,
            hidden_size=arch.hidden_size,
            total_params=pb.total,
            trainable_params=plan.trainable,
            largest_module_params=_largest_module(arch),
            compute_bytes=e,
            small_params=pb.norms,
        )
    layer = (pb.attention + pb.mlp) / arch.n_layers
    gather = DTYPE_BYTES[p.fsdp_param_dtype] if p.fsdp_param_dtype else (plan.param_bytes if w.method == "full" else e)
    grad = DTYPE_BYTES[p.fsdp_reduce_dtype or p.fsdp_param_dtype or w.precision] if p.fsdp_param_dtype else gather
    return fsdp_buffer_bytes(
        p, layer_params=layer, param_bytes=gather, grad_bytes=grad, trains_layers=_fsdp_unit_grads(arch, w, plan) > 0
    )


def _shard_grad_op_unsharded(w: FineTune, plan: _Plan) -> float:
    """Bytes of the unsharded parameters FSDP ``SHARD_GRAD_OP`` keeps from a unit's forward to the end of
    its backward, before tensor/pipeline division.

    torch ``distributed/fsdp/_runtime_utils.py``: ``_post_forward`` reshards only the strategies in
    ``RESHARD_AFTER_FORWARD_HANDLE_STRATEGIES`` (FULL_SHARD, HYBRID_SHARD), so SHARD_GRAD_OP's unsharded
    flat parameters (``param_dtype`` of the MixedPrecision policy, else the parameters' own dtype) stay
    alive through backward; ``_should_free_in_backward`` frees them after the backward that syncs
    gradients. At the optimizer step only the sharded flat parameters remain.
    """
    p = w.parallelism
    trainable = plan.trainable * (DTYPE_BYTES[p.fsdp_param_dtype] if p.fsdp_param_dtype else plan.param_bytes)
    frozen: float = plan.frozen_bytes
    if p.fsdp_param_dtype and w.frozen_precision is None and w.quantized_base is None:
        frozen = plan.frozen_bytes / DTYPE_BYTES[w.precision] * DTYPE_BYTES[p.fsdp_param_dtype]
    return trainable + frozen


def _fsdp_unit_grads(arch: Architecture, w: FineTune, plan: _Plan) -> int:
    """Elements FSDP gives gradients: FSDP1 with ``use_orig_params`` grads whole flat parameters (every
    unit holding a trained parameter); FSDP2 and ZeRO only the trained parameters."""
    p = w.parallelism
    if p.fsdp == "none" or p.fsdp_version != 1 or not p.fsdp_use_orig_params or w.method == "full":
        return plan.trainable
    pb = param_breakdown(arch)
    layer = (pb.attention + pb.mlp + pb.norms) / arch.n_layers
    root = pb.embedding + pb.position + pb.lm_head  # the root unit: embeddings, final norm, LM head
    if w.method in ("lora", "qlora"):
        units = (layer * arch.n_layers if plan.lora else 0) + (root if plan.embeddings_trainable else 0)
    elif w.method == "freeze":
        units = layer * min(w.trainable_layers, arch.n_layers)
    else:  # prefix encoders live in the root unit
        units = root
    if w.method == "qlora":
        return plan.trainable  # FSDP1 cannot flatten 4-bit weights with trained ones; QLoRA-FSDP wraps apart
    return math.ceil(units + plan.trainable)


def _precision_note(w: FineTune, plan: _Plan) -> str:
    if plan.deepspeed:
        return "model in the compute dtype, fp32 master partition and optimizer states (DeepSpeed)"
    if w.parallelism.fsdp != "none" and w.parallelism.fsdp_param_dtype is not None:
        # An FSDP MixedPrecision policy replaces autocast (no autocast copies). Without a policy FSDP
        # computes in the parameters' dtype and the usual AMP/pure note below applies.
        own = "fp32" if plan.param_bytes == 4 else w.precision
        gathered = w.parallelism.fsdp_param_dtype
        return f"{own} sharded parameters gathered in {gathered} (FSDP MixedPrecision, no autocast)"
    return (
        "fp32 trainable parameters with autocast (AMP)" if w.is_mixed else "parameters and states in the compute dtype"
    )


def _optimizer_note(w: FineTune, plan: _Plan) -> str:
    """Which optimizer implementation runs the step, and where."""
    p = w.parallelism
    if plan.deepspeed and p.offload_optimizer:
        # DeepSpeed's ZeRO-Offload steps with DeepSpeedCPUAdam (``deepspeed/ops/adam/cpu_adam.py``) on the
        # host copy of the fp32 partition (``ZeroOneAdam``-style GPU optimizers are refused with offload).
        return f"optimizer: {w.optimizer} as DeepSpeedCPUAdam on the CPU (offload_optimizer)"
    if p.fsdp != "none" and p.offload_params:
        return f"optimizer: {w.optimizer} ({w.optimizer_impl}) on the CPU: FSDP CPUOffload keeps the parameters there"
    if plan.deepspeed:
        return f"optimizer: {w.optimizer} (DeepSpeed's fused step on the GPU: no foreach temporaries)"
    return f"optimizer: {w.optimizer} ({w.optimizer_impl})"


_DEVICE_NAME = {"cpu": "CPU", "nvme": "NVMe"}


def _host_offload(
    p: Parallelism, plan: _Plan, trainable_bytes: float, frozen_bytes: float, grads: float, states: float, mp: int
) -> list[str]:
    """Assumption lines for offload: what goes to the host (CPU RAM or NVMe) and how much, per GPU rank and
    for the job. Arguments are the sharded per-rank figures before offload zeroes them.

    DeepSpeed (``stage_1_and_2.py`` / ``stage3.py`` with ``cpu_offload``): the fp32 master partition and
    optimizer states (``states``), plus the fp32 gradient partition the CPU Adam steps with
    (``single_partition_of_fp32_groups[i].grad`` / the pinned ``grad_partitions_flat_buffer``), 4 bytes per
    trainable element of the partition; ``offload_param`` moves the 16-bit parameter partitions.
    FSDP ``CPUOffload(offload_params=True)``: the sharded parameters, their gradients and the optimizer states.
    NVMe offload (ZeRO-Infinity) puts the same bytes on NVMe, with pinned swap buffers in RAM.
    """
    if not (p.offload_optimizer or p.offload_params):
        return []
    n_ranks = p.n_gpus
    parts: dict[str, float] = {}
    if p.fsdp != "none":
        parts["cpu"] = trainable_bytes + frozen_bytes + grads + states
        what = "parameters, gradients and optimizer states (FSDP CPUOffload)"
    else:
        fp32_grads = 4 * plan.trainable / mp / p.shard_ranks
        if p.offload_optimizer:
            dev = p.offload_optimizer_device
            parts[dev] = parts.get(dev, 0.0) + states + fp32_grads
        if p.offload_params:
            dev = p.offload_params_device
            parts[dev] = parts.get(dev, 0.0) + trainable_bytes + frozen_bytes
        what = " and ".join(
            x
            for x in (
                f"fp32 master, optimizer states and fp32 gradients to {_DEVICE_NAME[p.offload_optimizer_device]}"
                if p.offload_optimizer
                else "",
                f"16-bit parameter partitions to {_DEVICE_NAME[p.offload_params_device]}" if p.offload_params else "",
            )
            if x
        )
    lines = [f"offloaded: {what}"]
    for dev, per_rank in parts.items():
        place = "host RAM (pinned)" if dev == "cpu" else "NVMe space"
        lines.append(
            f"offload needs {per_rank / 2**30:.2f} GiB of {place} per GPU rank, {per_rank * n_ranks / 2**30:.1f} GiB "
            f"for all {n_ranks} ranks (a node of k GPUs needs k x the per-rank figure); not in the GPU total"
        )
    return lines


def _sharding_notes(arch: Architecture, p: Parallelism) -> list[str]:
    """The buffer settings in effect (memory/sharding.py), in DeepSpeed's or PyTorch's words."""
    notes = []
    if p.zero_stage:
        reduce, prefetch, _ = resolve_buckets(p, arch.hidden_size)
        text = f"DeepSpeed buckets: reduce {reduce:.3g}"
        if p.zero_stage < 3:
            text += f", allgather {p.allgather_bucket_size:.3g}"
        else:
            text += f", prefetch {prefetch:.3g}, max live {p.max_live_parameters:.3g}, sub-group {p.sub_group_size:.3g}"
        notes.append(text + f" elements; overlap_comm {'on' if p.overlap_comm_in_effect else 'off'}")
    elif p.fsdp != "none":
        notes.append(
            f"FSDP{p.fsdp_version} {p.fsdp}: {p.fsdp_layers_per_unit} decoder layer(s) per unit, one unit prefetched"
            + (", gradients unsharded under no_sync()" if p.accumulate_without_sync else "")
        )
    if p.n_gpus > 1:
        notes.append("NCCL communicator buffers per rank (overhead.nccl; see docs/sharding.md)")
    return notes


_LOSS_TEXT = {
    "full-logits": "loss: transformers ForCausalLMLoss (fp32 logits over the full vocabulary)",
    "chunked-output": "loss: torchtune LinearCrossEntropyLoss (8 output chunks)",
    "chunked-tokens": "loss: TRL chunked_nll (256-token checkpointed chunks)",
    "fused-linear": "loss: fused linear cross-entropy (Liger / unsloth), logits never whole",
}


def estimate_finetune(
    arch: Architecture, extra_params: int, w: FineTune, *, cuda_context_bytes: int, allocator_fraction: float
) -> MemoryEstimate:
    """Per-GPU memory of one fine-tuning step (see the module docstring)."""
    p = w.parallelism
    tp, pp, n_dp, stage = p.tensor_parallel, p.pipeline_parallel, p.data_parallel, p.shard_stage
    plan = _plan(arch, _shape(w))
    e = DTYPE_BYTES[w.precision]
    mp = tp * pp  # tensor and pipeline parallelism divide parameters, states and activations

    trainable_bytes = plan.trainable_bytes / mp
    frozen_bytes = plan.frozen_bytes / mp
    grads = _fsdp_unit_grads(arch, w, plan) * plan.param_bytes
    grads = (grads - plan.copies * (plan.param_bytes - plan.copy_bytes)) / mp  # copies in their own dtype
    states, step_temp = (x / mp for x in _optimizer_states(arch, w, plan))
    master = plan.trainable * plan.master_bytes / mp
    resident_grads = 0.0  # gradient memory held through forward and backward (ZeRO-3's partition buffer)
    host: list[str] = []  # what offload puts in host memory or on NVMe (assumption lines)
    unsharded = 0.0  # FSDP SHARD_GRAD_OP's unsharded parameters, alive from forward to the end of backward
    if stage:
        n_shard = p.shard_ranks  # hybrid sharding: the state is split within a shard group only
        ds_grad_copy = (4 + e) * plan.trainable / mp if plan.deepspeed else 0.0
        states, master, step_temp = states / n_shard, master / n_shard, step_temp / n_shard
        if plan.deepspeed and stage == 3:
            # ZeRO-3 steps one sub-group at a time: the fp32 gradient copy is one sub-group's (stage3.py).
            step_temp += min(p.sub_group_size, ds_grad_copy / (4 + e) / n_shard) * (4 + e) - ds_grad_copy / n_shard
        if stage >= 2 and not p.accumulate_without_sync:
            grads /= n_shard  # (no_sync() accumulates unsharded gradients between micro-batches)
        if stage >= 3 or p.fsdp == "shard-grad-op":
            # FSDP SHARD_GRAD_OP keeps the flat parameters sharded too (the optimizer steps on the shard);
            # what it keeps whole is the unsharded param_dtype copy, between forward and backward only
            # (``unsharded`` below).
            trainable_bytes /= n_shard
            frozen_bytes /= n_shard
        if p.fsdp == "shard-grad-op":
            unsharded = _shard_grad_op_unsharded(w, plan) / mp
        if plan.deepspeed and stage == 3 and not p.offload_optimizer:
            # stage3.py ``_setup_for_real_optimizer`` allocates ``grad_partitions_flat_buffer`` (the rank's
            # partition of every gradient, ``gradient_accumulation_dtype`` = the model dtype) at start-up
            # and keeps it: the gradient partition is resident through forward and backward.
            resident_grads = grads
        host = _host_offload(p, plan, trainable_bytes, frozen_bytes, grads, states + master, mp)
        if p.offload_optimizer or (p.offload_params and p.fsdp != "none"):
            # (FSDP CPUOffload keeps the parameters on the CPU, so the optimizer steps there too.)
            states = master = step_temp = 0.0
            if plan.deepspeed and stage >= 2:
                # With offload_optimizer the reduced gradient partition goes straight to pinned CPU memory:
                # stage3.py allocates ``grad_partitions_flat_buffer`` on ``self.device`` (the CPU when
                # offloading), stage_1_and_2.py copies each reduced partition into the fp32 CPU buffer
                # (``async_inplace_copy_grad_to_fp32_buffer_from_gpu``); the CPU Adam steps there. Only
                # the reduce buckets stay on the GPU (weights.sharding_buffers). ZeRO-1 still holds the
                # full 16-bit ``param.grad`` until the reduction at the accumulation boundary.
                grads = 0.0
        if p.offload_params:
            trainable_bytes = frozen_bytes = 0.0
            if p.fsdp != "none":
                grads = 0.0  # FSDP CPUOffload moves the gradient shards to the CPU too
    buffers = _sharding_buffers(arch, w)
    encoders = math.ceil(extra_params * e)  # vision/audio encoders of multimodal models (frozen)
    autocast = plan.autocast_bytes / mp / (n_dp if stage >= 3 else 1)

    saved, extra = _activations(arch, w, plan)
    saved, extra = math.ceil(saved / mp), math.ceil(extra / tp)
    # The plain loop's previous outputs live through the whole next step (both phases).
    kept_outputs = math.ceil(_kept_outputs(arch, w, w.batch_size * w.seq_len) / mp)
    # Paged bitsandbytes states live in CUDA unified memory, outside torch's caching allocator.
    paged = states * plan.paged_fraction
    states -= paged
    resident = trainable_bytes + frozen_bytes + encoders + buffers + states + paged + master + kept_outputs
    # Gradient accumulation under no_sync(): the gradients of earlier micro-batches are held through
    # the next forward and backward.
    held_grads = grads if p.accumulate_without_sync else resident_grads
    backward = resident + autocast + unsharded + saved + extra + plan.quant_transient + held_grads
    tied_extra = 0.0
    if plan.embeddings_trainable and arch.tied_embeddings:
        # Tied embeddings: the LM head's gradient waits in autograd's input buffer until the
        # embedding's arrives, then they are summed.
        tied_extra = 2 * arch.vocab_size * arch.hidden_size * (plan.copy_bytes or plan.param_bytes) / mp
    if arch.is_moe and "experts" in plan.trained:
        # Expert weights are 3-D parameters indexed per expert; each slice's backward
        # (select_backward) materialises a full-size gradient before autograd sums them, so
        # building a layer's gate/up gradient holds two more copies of its size.
        assert arch.expert_ffn_size is not None
        gate_up = arch.n_experts * 2 * arch.expert_ffn_size * arch.hidden_size * plan.param_bytes / mp
        # ... while that layer's own activations are still held (one layer's share of the saved set).
        tied_extra = max(tied_extra, 2 * gate_up + saved / arch.n_layers)
    end_of_backward = resident + grads + tied_extra
    step = resident + grads + step_temp
    if backward >= max(step, end_of_backward):
        phase = "backward"
        grads_now, temps = held_grads, 0.0
        act = {
            "activations.saved": saved,
            "activations.logits_and_transients": extra,
            "activations.dequantize": plan.quant_transient,
            "activations.kept_outputs": kept_outputs,
        }
    else:
        phase = "optimizer-step" if step >= end_of_backward else "end-of-backward"
        grads_now = grads
        temps = step_temp if phase == "optimizer-step" else tied_extra
        act = {"activations.kept_outputs": kept_outputs}
        autocast = unsharded = 0.0
    weights = {
        "weights.frozen": math.ceil(frozen_bytes),
        "weights.trainable": math.ceil(trainable_bytes),
        "weights.autocast_copies": math.ceil(autocast),
        **({"weights.unsharded_params": math.ceil(unsharded)} if p.fsdp == "shard-grad-op" else {}),
        "weights.encoders": encoders,
        "weights.sharding_buffers": buffers,
    }
    optimizer = {
        "optimizer.states": math.ceil(states),
        "optimizer.paged_states": math.ceil(paged),
        "optimizer.master_weights": math.ceil(master),
        "optimizer.step_temporaries": math.ceil(temps),
    }
    grads_total = math.ceil(grads_now)
    act_total = sum(act.values())
    # The allocator reserve follows what is allocated and freed during a step: the larger of the
    # activations (forward/backward) and the gradients plus the step's temporaries, whichever phase
    # holds the peak (the cache keeps the blocks of both).
    dynamic = math.ceil(max(saved + extra + plan.quant_transient, grads + step_temp + tied_extra))
    context, reserve = overhead_bytes(
        dynamic, cuda_context_bytes=cuda_context_bytes, allocator_fraction=allocator_fraction
    )
    nccl = nccl_buffer_bytes(data_parallel=n_dp, tensor_parallel=tp, pipeline_parallel=pp)
    pb = param_breakdown(arch)
    # The lines depend on the setting only (cached); offload's host-memory figures come last.
    assumptions = _assumptions(arch, w, bool(paged)) + tuple(host)
    return MemoryEstimate(
        weights_bytes=sum(weights.values()),
        kv_cache_bytes=0,
        activations_bytes=act_total,
        gradients_bytes=grads_total,
        optimizer_bytes=sum(optimizer.values()),
        overhead_bytes=context + reserve + nccl,
        components={
            **weights,
            **act,
            "gradients": grads_total,
            **optimizer,
            "overhead.cuda_context": context,
            "overhead.allocator": reserve,
            **({"overhead.nccl": nccl} if nccl else {}),
        },
        n_gpus=p.n_gpus,
        peak_phase=phase,
        n_params=pb.total + extra_params,
        active_params=pb.active + extra_params,
        trainable_params=plan.trainable,
        assumptions=tuple(assumptions),
    )


@functools.lru_cache(maxsize=4096)
def _assumptions(arch: Architecture, w: FineTune, paged: bool) -> tuple[str, ...]:
    """The assumption lines of :func:`estimate_finetune` but offload's host figures (the setting alone
    decides them: cached per architecture and workload; ``paged``: whether paged states are held)."""
    p = w.parallelism
    tp, pp, n_dp, stage = p.tensor_parallel, p.pipeline_parallel, p.data_parallel, p.shard_stage
    plan = _plan(arch, _shape(w))
    assumptions = [
        f"method: {w.method}; compute {w.precision}; " + _precision_note(w, plan),
        _optimizer_note(w, plan),
        f"micro-batch {w.batch_size} x {w.seq_len} tokens, attention {w.attention}, "
        f"gradient checkpointing {'on' if w.checkpointing else 'off'}"
        + (" (the method's recipe)" if w.gradient_checkpointing is None else "")
        + (", layer inputs offloaded to CPU" if w.offload_checkpoints else ""),
        _LOSS_TEXT[w.loss]
        if w.fp32_logits or w.loss != "full-logits"
        else f"loss: CrossEntropyLoss on {w.precision} logits (no fp32 upcast)",
    ]
    if w.framework == "litgpt" and w.loss == "full-logits":  # litgpt/utils.py chunked_cross_entropy
        assumptions[-1] = (
            "loss: approximated as " + assumptions[-1].removeprefix("loss: ") + "; litgpt's own "
            "chunked_cross_entropy (128-token chunks) holds other tensors, not modelled one by one (docs/litgpt.md)"
        )
    if w.framework is not None:
        assumptions.append(f"framework profile: {w.framework} {w.framework_version or ''}".rstrip())
    if w.method in ("lora", "qlora"):
        assumptions.append(
            f"{'DoRA' if w.dora else 'LoRA'} r={w.lora_rank} on {', '.join(sorted(plan.lora)) or 'no module'}"
        )
    if w.quantized_base is not None:
        assumptions.append(f"frozen base Linears stored as {w.quantized_base}")
    if w.modules_to_save or w.train_embeddings:
        assumptions.append(
            "trainable copies (modules_to_save): "
            + ", ".join(sorted(set(w.modules_to_save) | ({"embed_tokens", "lm_head"} if w.train_embeddings else set())))
            + (f" in {w.copies_precision} (their gradients and optimizer states too)" if plan.copies else "")
        )
    if w.is_peft and w.is_mixed and not w.uses_autocast:
        assumptions.append("fp32 adapters without autocast: each adapter keeps its own fp32 input copy")
    if w.loop == "plain":
        assumptions.append("plain loop: the previous step's outputs (logits, KV cache) stay alive")
    if paged:
        assumptions.append(
            "optimizer.paged_states: bitsandbytes paged (unified) memory, seen by nvidia-smi, "
            "not by torch.cuda.max_memory_allocated"
        )
    if arch.is_moe:
        assumptions.append("MoE: tokens routed evenly over experts")
    if p.n_gpus > 1 or stage:
        kind = " (FSDP)" if p.fsdp != "none" else " (DeepSpeed ZeRO)" if stage else ""
        assumptions.append(f"parallelism: dp={n_dp}, tp={tp}, pp={pp}, sharding stage {stage}{kind}")
        assumptions.extend(_sharding_notes(arch, p))
    return tuple(assumptions)
