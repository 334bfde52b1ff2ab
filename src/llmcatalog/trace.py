"""Measure the tensor-memory peak of the real Hugging Face code, without a GPU.

Optional: needs the ``trace`` extra (``pip install "llmcatalog[trace]"``: torch, transformers,
peft). The model is built from its config under :class:`torch._subclasses.fake_tensor.FakeTensorMode`,
so no memory is allocated and a 70B model traces on a laptop; transformers' (and PEFT's) own
forward, backward and optimizer step run on the fake tensors, and a small
``TorchDispatchMode`` records the bytes of every live tensor storage (rounded to the CUDA
caching allocator's 512-byte blocks). Its peak equals that of
:class:`torch.distributed._tools.mem_tracker.MemTracker` on the same steps (checked in
``tests/test_accuracy_trace.py``); unlike MemTracker it also attributes the peak to parameters,
gradients and optimizer states, and it replaces the CPU embedding backward by one that
allocates like the CUDA kernel.

What the peak means: the largest total size of live tensors, i.e. what
``torch.cuda.max_memory_allocated()`` would report. It excludes the CUDA context and the
caching allocator's reserve, so compare it with ``estimate.total_bytes - estimate.overhead_bytes``.

Fake tensors live on the CPU device: there, PyTorch's SDPA dispatches to its flash-attention
kernel for CPU, whose memory (output + fp32 log-sum-exp) matches FlashAttention/memory-efficient
SDPA on CUDA. Fake *CUDA* tensors would instead take the math fallback and materialise the
attention matrix, which a real GPU does not.

Not traceable here: bitsandbytes, GPTQ and AWQ kernels (they need a GPU), 8-bit optimizers.
Those raise :class:`TraceUnsupportedError`.

    >>> from llmcatalog import Inference, get_model
    >>> from llmcatalog.trace import trace_inference
    >>> model = get_model("Llama-2-7b")
    >>> result = trace_inference(model, Inference(context_tokens=2048))  # doctest: +SKIP
    >>> result.peak_bytes / 2**30  # doctest: +SKIP
    12.67
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from .errors import LLMCatalogError
from .values.model import Architecture, Model
from .values.workload import FineTune, Inference

__all__ = [
    "TraceResult",
    "TraceUnsupportedError",
    "hf_config_from_architecture",
    "trace_finetune",
    "trace_inference",
]


class TraceUnsupportedError(LLMCatalogError, NotImplementedError):
    """The requested setting cannot be traced on the CPU (needs GPU kernels or missing packages)."""


@attrs.frozen(kw_only=True)
class TraceResult:
    """The measured tensor-memory peak and what it was made of at that moment (bytes)."""

    peak_bytes: int
    by_kind: Mapping[str, int]
    n_params: int
    hf_model_type: str
    exact_architecture: bool
    note: str = ""


_DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}

#: PyTorch's CUDA caching allocator rounds every allocation up to a multiple of 512 bytes
#: (``c10/cuda/CUDACachingAllocator.cpp``, ``kMinBlockSize``); the tracker does the same.
_BLOCK = 512


def _rounded(nbytes: int) -> int:
    return -(-nbytes // _BLOCK) * _BLOCK


def _embedding_backward_like_cuda(
    torch: Any, grad: Any, indices: Any, num_weights: int, padding_idx: int, scale_grad_by_freq: bool
) -> Any:
    """The embedding's weight gradient as CUDA allocates it: one (vocab x hidden) tensor in the
    gradient's dtype. The CPU kernel first builds it in fp32, which a GPU run never holds."""
    flat = grad.reshape(-1, grad.shape[-1])
    return torch.zeros((num_weights, grad.shape[-1]), dtype=grad.dtype).index_add_(0, indices.reshape(-1), flat)


def _make_tracker() -> Any:
    """A TorchDispatchMode that sums the bytes of live tensor storages and records the peak.

    Every tensor an operator returns is tracked by its storage (views share one); a weakref
    callback subtracts the storage when it is freed. At each new peak, ``kinds()`` (if given)
    attributes the live bytes to parameters, gradients and optimizer states; the rest is
    activations and temporaries.
    """
    import weakref

    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_flatten

    class _PeakTracker(TorchDispatchMode):  # type: ignore[misc]
        def __init__(self, kinds: Any = None) -> None:
            super().__init__()
            self.live = 0
            self.peak = 0
            self.peak_kinds: dict[str, int] = {}
            self._refs: dict[int, Any] = {}
            self._kinds = kinds

        def track(self, tensor: Any) -> None:
            if not isinstance(tensor, torch.Tensor):
                return
            try:
                storage = tensor.untyped_storage()
            except (RuntimeError, NotImplementedError):  # pragma: no cover - tensors without storage
                return
            key = id(storage)
            if key in self._refs:
                return
            nbytes = _rounded(storage.nbytes())

            def release(_ref: Any, key: int = key, nbytes: int = nbytes) -> None:
                self._refs.pop(key, None)
                self.live -= nbytes

            self._refs[key] = weakref.ref(storage, release)
            self.live += nbytes
            if self.live > self.peak:
                self.peak = self.live
                if self._kinds is not None:
                    known = self._kinds()
                    known["activations_and_temporaries"] = self.live - sum(known.values())
                    self.peak_kinds = known

        def storage_bytes(self, tensors: Any) -> int:
            seen: dict[int, int] = {}
            for t in tensors:
                if isinstance(t, torch.Tensor):
                    st = t.untyped_storage()
                    seen[id(st)] = _rounded(st.nbytes())
            return sum(seen.values())

        def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            if func is torch.ops.aten.embedding_dense_backward.default:
                out = _embedding_backward_like_cuda(torch, *args)
            else:
                out = func(*args, **(kwargs or {}))
            for t in tree_flatten(out)[0]:
                self.track(t)
            return out

    return _PeakTracker


def _require() -> Any:
    try:
        import torch
        import transformers  # noqa: F401
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise TraceUnsupportedError('tracing needs torch and transformers: pip install "llmcatalog[trace]"') from exc
    return torch


_HF_LAYER_KINDS = {"full": "full_attention", "sliding": "sliding_attention", "conv": "conv"}


def _layer_types(a: Architecture) -> list[str]:
    """One transformers ``layer_types`` entry per layer (our period repeated over ``n_layers``)."""
    pattern = a.layer_types or ("sliding" if a.sliding_window else "full",)
    return [_HF_LAYER_KINDS[pattern[i % len(pattern)]] for i in range(a.n_layers)]


def _family_config(a: Architecture, base: dict[str, Any]) -> dict[str, Any] | None:
    """The config of ``a``'s own transformers family, when it came from one we map back.

    Covers the families whose layout the generic stand-ins below cannot express: per-layer
    sliding/full/conv layers (Gemma 2/3, gpt-oss, Qwen2 with a window, LFM2) and multi-head latent
    attention (DeepSeek-V2/V3). Fields are the config classes' own (``Gemma2Config``,
    ``GptOssConfig``, ``DeepseekV2Config``, ``Lfm2Config``, ...); what the Architecture does not
    record (soft-capping, RoPE scaling, routing details) keeps the class default.
    """
    layer_types = _layer_types(a)
    window = {"sliding_window": a.sliding_window} if a.sliding_window else {}
    if a.family in ("gemma2", "gemma3"):
        model_type = "gemma2" if a.family == "gemma2" else "gemma3_text"
        return dict(
            base, model_type=model_type, layer_types=layer_types, hidden_activation="gelu_pytorch_tanh", **window
        )
    if a.family == "gpt-oss" and a.is_moe:
        return dict(
            base,
            model_type="gpt_oss",
            num_local_experts=a.n_experts,
            num_experts_per_tok=a.n_experts_per_token,
            intermediate_size=a.expert_ffn_size,
            attention_bias=a.qkv_bias,
            layer_types=layer_types,
            **window,
        )
    if a.family == "qwen2" and not a.is_moe and a.qkv_bias:
        sliding = "sliding_attention" in layer_types
        return dict(base, model_type="qwen2", use_sliding_window=sliding, layer_types=layer_types, **window)
    if a.family in ("deepseek-v2", "deepseek-v3") and a.is_mla:
        assert a.qk_rope_head_dim is not None
        cfg = dict(
            base,
            model_type="deepseek_v2" if a.family == "deepseek-v2" else "deepseek_v3",
            q_lora_rank=a.q_lora_rank,
            kv_lora_rank=a.kv_lora_rank,
            qk_nope_head_dim=a.head_dim - a.qk_rope_head_dim,
            qk_rope_head_dim=a.qk_rope_head_dim,
            v_head_dim=a.v_head_dim,
            attention_bias=a.qkv_bias,
        )
        cfg.pop("head_dim")
        if a.is_moe:
            cfg.update(
                n_routed_experts=a.n_experts,
                n_shared_experts=a.n_shared_experts,
                num_experts_per_tok=a.n_experts_per_token,
                moe_intermediate_size=a.expert_ffn_size,
                first_k_dense_replace=a.n_dense_layers,
                n_group=1,
                topk_group=1,
            )
        else:
            cfg.update(first_k_dense_replace=a.n_layers, n_routed_experts=1, num_experts_per_tok=1)
        return cfg
    if a.family == "lfm2":
        return dict(
            base,
            model_type="lfm2",
            layer_types=layer_types,
            conv_L_cache=a.conv_kernel or 3,
            conv_bias=a.conv_bias,
            block_auto_adjust_ff_dim=False,
        )
    return None


def hf_config_from_architecture(arch: Architecture) -> tuple[dict[str, Any], bool]:
    """A transformers config dict implementing ``arch`` with a built-in model class.

    An Architecture read from a family transformers builds in (Gemma 2/3, gpt-oss, Qwen2,
    DeepSeek-V2/V3, LFM2: its ``family``) is mapped back to that family's config, so per-layer
    sliding/conv layers and MLA are traced as they are. Others get the closest generic class.
    Returns ``(config, exact)``; ``exact`` is False when no built-in class has exactly this
    layout and the closest one is used (ALiBi models are traced with RoPE; Falcon-style
    multi-norm parallel blocks with Phi's single norm). Parameter counts may then differ slightly:
    :attr:`TraceResult.n_params` reports the traced model's.
    """
    a = arch
    base: dict[str, Any] = {
        "hidden_size": a.hidden_size,
        "num_hidden_layers": a.n_layers,
        "num_attention_heads": a.n_heads,
        "num_key_value_heads": a.n_kv_heads,
        "head_dim": a.head_dim,
        "intermediate_size": a.ffn_size,
        "vocab_size": a.vocab_size,
        "max_position_embeddings": a.max_context,
        "tie_word_embeddings": a.tied_embeddings,
    }
    exact = a.position_embedding in ("rope", "none")
    family = _family_config(a, base)
    if family is not None:
        return family, True
    if a.is_moe:
        assert a.expert_ffn_size is not None
        if a.n_shared_experts or a.n_dense_layers:
            cfg = dict(
                base,
                model_type="qwen2_moe",
                num_experts=a.n_experts,
                num_experts_per_tok=a.n_experts_per_token,
                moe_intermediate_size=a.expert_ffn_size,
                shared_expert_intermediate_size=a.n_shared_experts * (a.shared_expert_ffn_size or a.expert_ffn_size),
                mlp_only_layers=list(range(a.n_dense_layers)),
                norm_topk_prob=False,
                qkv_bias=a.qkv_bias,
            )
            # Qwen2-MoE adds a 1-wide gate on the shared expert and fixed q/k/v biases.
            return cfg, False
        cfg = dict(
            base,
            model_type="mixtral",
            num_local_experts=a.n_experts,
            num_experts_per_tok=a.n_experts_per_token,
            intermediate_size=a.expert_ffn_size,
            sliding_window=a.sliding_window,
        )
        return cfg, exact and not a.qkv_bias and not a.attn_out_bias
    if a.mlp == "gated":
        if a.family == "gemma" or a.activation.startswith("gelu"):
            cfg = dict(base, model_type="gemma", hidden_activation="gelu_pytorch_tanh")
            return cfg, exact and not (a.qkv_bias or a.attn_out_bias or a.mlp_bias) and a.norm == "rmsnorm"
        if a.family == "chatglm" and a.n_kv_heads < a.n_heads:
            cfg = dict(base, model_type="glm", attention_bias=a.qkv_bias, partial_rotary_factor=0.5, pad_token_id=None)
            return cfg, exact and not a.attn_out_bias and not a.mlp_bias
        if a.qkv_bias and not a.attn_out_bias:
            cfg = dict(base, model_type="qwen2", use_sliding_window=False)
            return cfg, exact and not a.mlp_bias and a.norm == "rmsnorm"
        if a.sliding_window:
            cfg = dict(base, model_type="mistral", sliding_window=a.sliding_window)
            return cfg, exact and not (a.qkv_bias or a.attn_out_bias or a.mlp_bias)
        cfg = dict(base, model_type="llama", attention_bias=a.qkv_bias, mlp_bias=a.mlp_bias)
        return cfg, exact and a.qkv_bias == a.attn_out_bias and a.norm == "rmsnorm"
    # Standard (2-matrix) MLP with LayerNorm: the GPT-2, BLOOM, Falcon, StarCoder and Phi layouts.
    if a.family == "bloom" or (a.position_embedding == "alibi" and a.embedding_norm):
        cfg = {
            "model_type": "bloom",
            "hidden_size": a.hidden_size,
            "n_layer": a.n_layers,
            "n_head": a.n_heads,
            "vocab_size": a.vocab_size,
        }
        return cfg, a.ffn_size == 4 * a.hidden_size and a.qkv_bias and a.tied_embeddings
    if a.parallel_block and a.norms_per_layer in (1, 2) and not a.lm_head_bias and not a.mlp_bias:
        cfg = dict(
            base,
            model_type="falcon",
            num_kv_heads=a.n_kv_heads,
            multi_query=a.n_kv_heads == 1,
            new_decoder_architecture=a.norms_per_layer == 2,
            parallel_attn=True,
            bias=a.qkv_bias,
            alibi=a.position_embedding == "alibi",
            ffn_hidden_size=a.ffn_size,
        )
        for key in ("num_key_value_heads", "head_dim", "intermediate_size"):
            cfg.pop(key)
        return cfg, a.head_dim * a.n_heads == a.hidden_size
    if a.position_embedding == "learned":
        cfg = {
            "model_type": "gpt_bigcode" if a.n_kv_heads == 1 else "gpt2",
            "n_embd": a.hidden_size,
            "n_layer": a.n_layers,
            "n_head": a.n_heads,
            "n_inner": a.ffn_size,
            "vocab_size": a.vocab_size,
            "n_positions": a.max_context,
            "tie_word_embeddings": a.tied_embeddings,
            "activation_function": "gelu_pytorch_tanh" if a.n_kv_heads == 1 else "gelu_new",
        }
        if a.n_kv_heads == 1:
            cfg["multi_query"] = True
        return cfg, a.n_kv_heads in (1, a.n_heads) and a.head_dim * a.n_heads == a.hidden_size
    cfg = dict(base, model_type="phi", partial_rotary_factor=0.5, hidden_act="gelu_new")
    cfg.pop("head_dim")
    exact_phi = (
        a.parallel_block and a.norms_per_layer == 1 and a.lm_head_bias and a.head_dim * a.n_heads == a.hidden_size
    )
    return cfg, exact and exact_phi


def _resolve_config(source: Model | Architecture | Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    from transformers import CONFIG_MAPPING

    if isinstance(source, Model):
        if source.architecture is None:
            raise TraceUnsupportedError(f"model {source.id!r} has no architecture to trace")
        return hf_config_from_architecture(source.architecture)
    if isinstance(source, Architecture):
        return hf_config_from_architecture(source)
    if isinstance(source, Mapping):
        model_type = source.get("model_type")
        if model_type in CONFIG_MAPPING:
            return dict(source), True
        # Remote-code families (chatglm, qwen, baichuan, internlm, deepseek): go through our Architecture.
        from .importers.hfconfig import architecture_from_hf_config

        return hf_config_from_architecture(architecture_from_hf_config(source))
    raise TypeError(f"expected a Model, an Architecture or a config mapping, got {type(source).__name__}")


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence transformers' warnings, and make its mask logic see what a real run sees.

    transformers checks ``position_ids`` for packed sequences, a data-dependent test it skips
    on fake tensors by assuming packing, which materialises a boolean (s x s) mask per layer.
    Our inputs are never packed, so the check is answered as a real run answers it: no
    packing, and SDPA runs with ``is_causal=True`` and no mask.
    """
    import logging
    import warnings

    from transformers import masking_utils

    logger = logging.getLogger("transformers")
    level = logger.level
    logger.setLevel(logging.ERROR)
    original = masking_utils.find_packed_sequence_indices
    masking_utils.find_packed_sequence_indices = lambda position_ids: None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            yield
        finally:
            logger.setLevel(level)
            masking_utils.find_packed_sequence_indices = original


def _build(config: dict[str, Any], dtype: str, attention: str) -> Any:
    """The transformers model for ``config`` on the meta device (no memory, no init cost)."""
    from transformers import AutoConfig, AutoModelForCausalLM

    torch = _require()
    cfg = dict(config)
    model_type = cfg.pop("model_type")
    hf_config = AutoConfig.for_model(model_type, **cfg)
    impl = {"eager": "eager", "sdpa": "sdpa", "flash": "sdpa"}[attention]
    hf_config.use_cache = True
    with torch.device("meta"):
        try:
            return AutoModelForCausalLM.from_config(
                hf_config, dtype=getattr(torch, _DTYPES[dtype]), attn_implementation=impl
            )
        except ValueError as exc:
            if impl != "sdpa" or "scaled_dot_product_attention" not in str(exc):
                raise
            # Families without SDPA support (BLOOM) run their eager attention in transformers too.
            return AutoModelForCausalLM.from_config(
                hf_config, dtype=getattr(torch, _DTYPES[dtype]), attn_implementation="eager"
            )


def _to_fake(model: Any) -> Any:
    """Replace every meta parameter and buffer by a fake CPU tensor (call inside FakeTensorMode).

    Parameters are replaced in place, keeping ties (a shared Parameter stays shared) and
    ``requires_grad``; no ``Module.to()`` is involved, which cannot swap fake tensors.
    """
    torch = _require()
    memo: dict[int, Any] = {}
    for module in model.modules():
        for name, param in list(module._parameters.items()):
            if param is None:
                continue
            if id(param) not in memo:
                data = torch.empty(param.shape, dtype=param.dtype, device="cpu")
                memo[id(param)] = torch.nn.Parameter(data, requires_grad=param.requires_grad)
            module._parameters[name] = memo[id(param)]
        for name, buf in list(module._buffers.items()):
            if buf is not None:
                module._buffers[name] = torch.zeros(buf.shape, dtype=buf.dtype, device="cpu")
    # PEFT prompt learning keeps its virtual-token ids in a plain dict, outside the module tree.
    tokens = getattr(model, "prompt_tokens", None)
    if isinstance(tokens, dict):
        for key, ids in list(tokens.items()):
            tokens[key] = torch.arange(ids.shape[0], dtype=ids.dtype, device="cpu")
    return model


@contextlib.contextmanager
def _balanced_moe(model: Any) -> Iterator[None]:
    """Route tokens evenly over experts (each gets ``tokens * top_k / n_experts``).

    transformers' expert loops pick tokens with data-dependent ``nonzero``/``where``, which fake
    tensors cannot evaluate; real routing varies from batch to batch anyway. Balanced routing
    is the reference the estimate uses. Modules with 3-D ``gate_up_proj``/``down_proj`` expert
    parameters (transformers 5 ``*Experts``) get this forward for the duration.
    """
    torch = _require()
    import types

    patched = []

    def forward(self: Any, hidden_states: Any, top_k_index: Any, top_k_weights: Any) -> Any:
        n, k = hidden_states.shape[0], top_k_index.shape[-1]
        experts = self.gate_up_proj.shape[0]
        share = max(1, (n * k) // experts)
        final = torch.zeros_like(hidden_states)
        for i in range(experts):
            slots = torch.arange(i * share, (i + 1) * share) % (n * k)
            token_idx, top_k_pos = slots // k, slots % k
            current = hidden_states[token_idx]
            gate, up = torch.nn.functional.linear(current, self.gate_up_proj[i]).chunk(2, dim=-1)
            out = self.act_fn(gate) * up
            out = torch.nn.functional.linear(out, self.down_proj[i])
            out = out * top_k_weights[token_idx, top_k_pos, None]
            final.index_add_(0, token_idx, out.to(final.dtype))
        return final

    for module in model.modules():
        gup = getattr(module, "gate_up_proj", None)
        if isinstance(gup, torch.nn.Parameter) and gup.dim() == 3 and hasattr(module, "act_fn"):
            module.forward = types.MethodType(forward, module)
            patched.append(module)
    try:
        yield
    finally:
        for module in patched:
            del module.forward


@contextlib.contextmanager
def _cuda_like_sdpa() -> Iterator[None]:
    """Run SDPA with the kernel a GPU picks when the CPU would fall back to the math kernel.

    Keys and values of different widths (MLA: ``qk_nope + qk_rope`` = 192 vs ``v_head_dim`` =
    128 in DeepSeek-V2/V3) rule out FlashAttention, on CUDA (``check_head_dim_size_flash``
    wants equal q/k/v head sizes, ``aten/src/ATen/native/transformers/sdp_utils_cpp.h``) as on
    the CPU; the CPU then takes the math kernel, which casts q/k/v to fp32 and materialises the
    score matrix, while CUDA takes the memory-efficient kernel (``check_head_dim_size_mem_efficient``
    only asks q and k to match). Those calls go to ``aten._scaled_dot_product_efficient_attention``,
    whose fake kernel allocates what the CUDA one does: the output and, when a gradient is
    needed, an fp32 log-sum-exp; a boolean mask becomes an additive bias first, as CUDA's
    ``convert_boolean_attn_mask`` does.
    """
    torch = _require()
    functional = torch.nn.functional
    original = functional.scaled_dot_product_attention

    def sdpa(
        query: Any,
        key: Any,
        value: Any,
        attn_mask: Any = None,
        dropout_p: float = 0.0,
        is_causal: bool = False,
        scale: float | None = None,
        enable_gqa: bool = False,
    ) -> Any:
        if query.shape[-1] == value.shape[-1]:
            return original(query, key, value, attn_mask, dropout_p, is_causal, scale=scale, enable_gqa=enable_gqa)
        if enable_gqa and key.shape[1] != query.shape[1]:
            groups = query.shape[1] // key.shape[1]
            key = key.repeat_interleave(groups, dim=1)
            value = value.repeat_interleave(groups, dim=1)
        if attn_mask is not None and attn_mask.dtype == torch.bool:
            bias = torch.zeros(attn_mask.shape, dtype=query.dtype)
            attn_mask = bias.masked_fill_(attn_mask.logical_not(), float("-inf"))
        grad = torch.is_grad_enabled() and any(t.requires_grad for t in (query, key, value))
        out = torch.ops.aten._scaled_dot_product_efficient_attention(
            query, key, value, attn_mask, grad, dropout_p, is_causal, scale=scale
        )
        return out[0]

    functional.scaled_dot_product_attention = sdpa
    try:
        yield
    finally:
        functional.scaled_dot_product_attention = original


def _count(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())


def _kinds_fn(tracker: Any, model: Any, opt: Any = None) -> Any:
    params = list(model.parameters())
    buffers = list(model.buffers())

    def kinds() -> dict[str, int]:
        out = {
            "parameters": tracker.storage_bytes(params),
            "buffers": tracker.storage_bytes(buffers),
            "gradients": tracker.storage_bytes(p.grad for p in params if p.grad is not None),
        }
        if opt is not None:
            out["optimizer_states"] = tracker.storage_bytes(t for state in opt.state.values() for t in state.values())
        return out

    return kinds


def trace_inference(source: Model | Architecture | Mapping[str, Any], workload: Inference) -> TraceResult:
    """Peak tensor memory of ``generate()``-style inference with the real transformers model.

    Two phases are measured, as in Hugging Face ``generate()`` with a ``DynamicCache``: the
    prefill of ``workload.prefill_tokens`` prompt tokens (only the last position's logits, as
    ``generate`` asks with ``logits_to_keep=1``, copied to fp32), and the last decoding step,
    with the cache already holding ``context_tokens - 1`` tokens. The peak is the larger.
    Only unquantized precisions (fp32/fp16/bf16) can be traced.
    """
    torch = _require()
    from torch._subclasses.fake_tensor import FakeTensorMode
    from transformers import DynamicCache

    if workload.precision not in _DTYPES:
        raise TraceUnsupportedError(f"precision {workload.precision!r} needs GPU kernels; trace fp32/fp16/bf16")
    if workload.kv_dtype != workload.compute:
        raise TraceUnsupportedError("a KV-cache dtype different from the compute dtype cannot be traced")
    if workload.parallelism.n_gpus > 1:
        raise TraceUnsupportedError("tracing covers one GPU; trace the per-GPU shard's architecture instead")
    config, exact = _resolve_config(source)
    b, prompt, context = workload.batch_size, workload.prefill_tokens, workload.context_tokens
    tracker_cls = _make_tracker()
    model = _build(config, workload.precision, workload.attention)
    with _quiet(), _cuda_like_sdpa(), FakeTensorMode(), torch.no_grad(), _balanced_moe(model):
        _to_fake(model)
        model.eval()
        n_params = _count(model)

        # Phase 1: prefill of the prompt.
        t1 = tracker_cls()
        t1.peak_kinds = {}
        t1._kinds = _kinds_fn(t1, model)
        for t in [*model.parameters(), *model.buffers()]:
            t1.track(t)
        with t1:
            cache = DynamicCache(config=model.config)
            ids = torch.zeros((b, prompt), dtype=torch.long)
            out = model(input_ids=ids, past_key_values=cache, use_cache=True, logits_to_keep=1)
            logits = out.logits[:, -1, :].to(copy=True, dtype=torch.float32)
            del out, logits, ids, cache
        gc.collect()

        # Phase 2: the last decoding step, with context - 1 tokens already cached. The cache is
        # filled by the model itself (a prefill of context - 2 tokens, then one decoding step),
        # so every layer holds what its real cache class holds at that point: keys/values, MLA
        # latents, conv states, sliding windows trimmed by a decoding step's update. The peak
        # is then reset to the bytes live before the measured step.
        t2 = tracker_cls()
        t2._kinds = _kinds_fn(t2, model)
        for t in [*model.parameters(), *model.buffers()]:
            t2.track(t)
        with t2:
            cache = DynamicCache(config=model.config)
            warm = [n for n in (context - 2, 1 if context > 2 else 0) if n > 0]
            position = 0
            for n in warm:
                ids = torch.zeros((b, n), dtype=torch.long)
                positions = torch.arange(position, position + n).expand(b, n)
                out = model(
                    input_ids=ids, position_ids=positions, past_key_values=cache, use_cache=True, logits_to_keep=1
                )
                position += n
                del out, ids, positions
                gc.collect()
            t2.peak = t2.live
            t2.peak_kinds = {}
            ids = torch.zeros((b, 1), dtype=torch.long)
            positions = torch.full((b, 1), position, dtype=torch.long)
            out = model(input_ids=ids, position_ids=positions, past_key_values=cache, use_cache=True, logits_to_keep=1)
            logits = out.logits[:, -1, :].to(copy=True, dtype=torch.float32)
            probs = torch.softmax(logits, dim=-1)
            del out, logits, probs, ids, positions, cache
        gc.collect()
    best = t1 if t1.peak >= t2.peak else t2
    return TraceResult(
        peak_bytes=best.peak,
        by_kind=dict(best.peak_kinds),
        n_params=n_params,
        hf_model_type=str(config["model_type"]),
        exact_architecture=exact,
        note=f"prefill peak {t1.peak} B, last decode step peak {t2.peak} B",
    )


def _lora_targets(targets: tuple[str, ...]) -> Any:
    return "all-linear" if targets == ("all-linear",) else list(targets)


def trace_finetune(
    source: Model | Architecture | Mapping[str, Any], workload: FineTune, *, steps: int = 2
) -> TraceResult:
    """Peak tensor memory of ``steps`` training steps (forward, backward, optimizer step).

    Built like a typical Hugging Face / PEFT script: the model in ``workload.precision``
    (fp32 for full fine-tuning with ``mixed_precision``, run under ``torch.autocast``), PEFT
    adapters (LoRA in fp32 when mixed, PEFT's default), non-reentrant gradient checkpointing
    when asked, ``labels = input_ids`` so transformers computes the loss, and a
    ``torch.optim`` optimizer over the trainable parameters. Two steps are run so the
    optimizer states (created lazily at the first step) are live during the second step's
    forward and backward.
    """
    torch = _require()
    from torch._subclasses.fake_tensor import FakeTensorMode

    w = workload
    if w.method == "qlora" or w.quantized_base is not None:
        raise TraceUnsupportedError("QLoRA needs bitsandbytes/GPTQ GPU kernels; it cannot be traced on the CPU")
    if w.loss != "full-logits" or w.offload_checkpoints:
        raise TraceUnsupportedError("only transformers' own loss and on-GPU checkpointing are traced")
    if w.optimizer in ("adamw-8bit", "paged-adamw-8bit", "paged-adamw-32bit", "lion"):
        raise TraceUnsupportedError(f"optimizer {w.optimizer!r} is not in torch.optim; it cannot be traced here")
    if w.parallelism.n_gpus > 1:
        raise TraceUnsupportedError("tracing covers one GPU without sharding")
    peft: Any = None
    if w.method in ("lora", "p-tuning-v2", "prefix-tuning", "llama-adapter"):
        try:
            import peft as _peft
        except ImportError as exc:  # pragma: no cover
            raise TraceUnsupportedError('PEFT methods need peft: pip install "llmcatalog[trace]"') from exc
        peft = _peft
    config, exact = _resolve_config(source)
    mixed = w.is_mixed
    compute = getattr(torch, _DTYPES[w.precision])
    full_amp = mixed and w.method == "full"
    fp32_model = full_amp or w.frozen_precision == "fp32"
    saved = sorted(set(w.modules_to_save) | ({"embed_tokens", "lm_head"} if w.train_embeddings else set()))
    with _quiet():
        model = _build(config, "fp32" if fp32_model else w.precision, w.attention)
        if w.checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        if w.method == "lora":
            lcfg = peft.LoraConfig(
                r=w.lora_rank,
                lora_alpha=w.lora_alpha,
                lora_dropout=w.lora_dropout,
                target_modules=_lora_targets(w.lora_targets),
                modules_to_save=saved or None,
                use_dora=w.dora,
                task_type="CAUSAL_LM",
            )
            model = peft.get_peft_model(model, lcfg, autocast_adapter_dtype=mixed)
        elif w.method == "llama-adapter":
            n = min(w.adapter_layers or config["num_hidden_layers"], config["num_hidden_layers"])
            acfg = peft.AdaptionPromptConfig(adapter_len=w.adapter_len, adapter_layers=n, task_type="CAUSAL_LM")
            model = peft.get_peft_model(model, acfg, autocast_adapter_dtype=mixed)
        elif w.method in ("p-tuning-v2", "prefix-tuning"):
            pcfg = peft.PrefixTuningConfig(
                num_virtual_tokens=w.prefix_tokens, prefix_projection=w.prefix_projection, task_type="CAUSAL_LM"
            )
            model = peft.get_peft_model(model, pcfg, autocast_adapter_dtype=mixed)
        elif w.method == "freeze":
            for p in model.parameters():
                p.requires_grad_(False)
            for layer in model.model.layers[-w.trainable_layers :]:
                for p in layer.parameters():
                    p.requires_grad_(True)
                    if mixed:
                        p.data = p.data.float()
        if w.method in ("lora", "p-tuning-v2", "prefix-tuning", "llama-adapter") and mixed:
            for name, p in model.named_parameters():
                if p.requires_grad and not (w.copies_precision and "modules_to_save" in name):
                    p.data = p.data.float()
        if w.copies_precision:
            # FineTune.copies_precision: PEFT's modules_to_save copies in that dtype, apart from the adapters.
            for name, p in model.named_parameters():
                if p.requires_grad and "modules_to_save" in name:
                    p.data = p.data.to(getattr(torch, _DTYPES[w.copies_precision]))
    tracker_cls = _make_tracker()
    with _quiet(), _cuda_like_sdpa(), FakeTensorMode(), _balanced_moe(model):
        _to_fake(model)
        model.train()
        n_params = _count(model)
        params = [p for p in model.parameters() if p.requires_grad]
        opt = _optimizer(torch, w, params)
        tracker = tracker_cls()
        tracker._kinds = _kinds_fn(tracker, model, opt)
        for t in [*model.parameters(), *model.buffers()]:
            tracker.track(t)
        autocast_on = w.uses_autocast and any(p.dtype != compute for p in [*params, *model.parameters()])
        plain = w.loop == "plain"
        with tracker:
            ids = torch.zeros((w.batch_size, w.seq_len), dtype=torch.long)
            out = None
            for _ in range(steps):
                ctx = torch.autocast("cpu", dtype=compute) if autocast_on else contextlib.nullcontext()
                with ctx:
                    # The plain loop (``out = model(...)``) keeps the previous outputs until this returns,
                    # and transformers builds a cache unless checkpointing turned use_cache off.
                    out = model(input_ids=ids, labels=ids, use_cache=plain and not w.checkpointing)
                loss = out.loss
                if not plain:
                    out = None
                loss.backward()
                del loss
                opt.step()
                opt.zero_grad(set_to_none=True)
            del out
        gc.collect()
    return TraceResult(
        peak_bytes=tracker.peak,
        by_kind=dict(tracker.peak_kinds),
        n_params=n_params,
        hf_model_type=str(config["model_type"]),
        exact_architecture=exact,
    )


def _optimizer(torch: Any, w: FineTune, params: list[Any]) -> Any:
    impl = {"foreach": {"foreach": True}, "fused": {"fused": True}, "for-loop": {"foreach": False}}[w.optimizer_impl]
    if w.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=1e-5, **impl)
    if w.optimizer == "sgd":
        return torch.optim.SGD(params, lr=1e-3, **impl)
    if w.optimizer == "sgd-momentum":
        return torch.optim.SGD(params, lr=1e-3, momentum=0.9, **impl)
    if w.optimizer == "adafactor":
        from transformers.optimization import Adafactor

        return Adafactor(params, lr=None, relative_step=True, scale_parameter=True, warmup_init=False)
    raise TraceUnsupportedError(f"optimizer {w.optimizer!r} cannot be traced")  # pragma: no cover
