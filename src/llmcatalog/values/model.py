"""Catalog facts about models: :class:`Model`, its :class:`Architecture`, links, components
and the hardware figures its authors published.

All classes are frozen, keyword-only attrs classes; change them with ``attrs.evolve``.
Unknown facts are ``None``, never a guess. Field names are the TOML keys of the data files
(see ``docs/data-format.md``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import attrs

from . import render
from . import validators as v
from .precision import WeightFormat

__all__ = [
    "ARCHITECTURE_TYPES",
    "FIGURE_METRICS",
    "FIGURE_WORKLOADS",
    "LAYER_KINDS",
    "MEMORY_UNITS",
    "MODALITIES",
    "NORMS",
    "VARIANTS",
    "Architecture",
    "Component",
    "Links",
    "Model",
    "PublishedFigure",
]

#: What a model takes in and gives out.
MODALITIES = frozenset(
    {
        "text",  # text in, text out (LLMs)
        "vision-language",  # images (+text) in, text out
        "video-language",  # video (+text) in, text out
        "audio-language",  # audio/speech (+text) in, text out
        "multimodal",  # several of the above, or any-to-any
        "text-to-image",  # text-conditioned image generation (diffusion)
        "image-generation",  # unconditional / guided image generation
        "audio-generation",  # vocoders and waveform synthesis
        "text-to-audio",  # text-conditioned music or sound generation
        "speech-representation",  # self-supervised speech encoders (wav2vec 2.0, HuBERT)
    }
)

#: Training stage of a checkpoint.
VARIANTS = frozenset({"base", "chat", "instruct"})

#: Network family, when it is not a decoder-only transformer (which :class:`Architecture` describes).
ARCHITECTURE_TYPES = frozenset(
    {"decoder-only", "encoder-only", "encoder-decoder", "prefix-lm", "rnn", "diffusion", "vocoder", "other"}
)

_COMPONENT_ROLES = frozenset(
    {
        "language-model",
        "vision-encoder",
        "audio-encoder",
        "text-encoder",
        "projector",
        "image-decoder",
        "other",
    }
)

#: Kinds of published memory figure (the calibration CSV's ``workload`` column, plus ``train_freeze``).
FIGURE_WORKLOADS = frozenset(
    {
        "inference_load",
        "inference_prefill",
        "inference_generate",
        "inference_unspecified",
        "train_full",
        "train_freeze",
        "train_lora",
        "train_qlora",
        "train_ptuning_v2",
        "train_adapter",
        "train_pretrain",
    }
)

#: How a published figure was measured.
FIGURE_METRICS = frozenset(
    {
        "max_allocated",  # torch.cuda.max_memory_allocated: tensors only
        "nvidia-smi",  # process memory as the driver sees it: tensors + allocator cache + CUDA context
        "minimum",  # a "minimum VRAM" table, rounded up
        "approximate",  # prose ("about 13GB")
        "unspecified",  # a number whose measurement method the source does not state
        "fits",  # qualitative: "runs on one 40GB GPU" (no number, or the card's size)
        "oom",  # did not fit on the named GPU
    }
)

MEMORY_UNITS = frozenset({"GB", "GiB", "MB", "MiB"})


def _components_tuple(value: Any) -> tuple[Any, ...]:
    return tuple(value)


@attrs.frozen(kw_only=True)
class Links:
    """Where to find a model: code repository, model hub page, paper, project page."""

    code: str | None = attrs.field(default=None, validator=v.optional(v.url))
    hub: str | None = attrs.field(default=None, validator=v.optional(v.url))
    paper: str | None = attrs.field(default=None, validator=v.optional(v.url))
    homepage: str | None = attrs.field(default=None, validator=v.optional(v.url))


def _activation_name(value: object) -> object:
    """``gelu_new`` and ``gelu-new`` are one activation: store the dashed lower-case form."""
    return value.strip().lower().replace("_", "-") if isinstance(value, str) else value


def _default_kv_heads(self: Architecture) -> int:
    return self.n_heads


def _default_head_dim(self: Architecture) -> int:
    return self.hidden_size // self.n_heads


#: Normalisation layers: RMSNorm (weight), LayerNorm (weight and bias), LayerNorm without bias (Cohere).
NORMS = frozenset({"rmsnorm", "layernorm", "layernorm-nobias"})


#: What one decoder layer keeps per sequence between forward passes (:attr:`Architecture.layer_types`):
#: ``full`` attention (keys and values of every token), ``sliding`` attention (the last
#: ``sliding_window`` tokens), ``conv`` a gated short convolution with a fixed-size state (LFM2).
LAYER_KINDS = frozenset({"full", "sliding", "conv"})

#: Longest ``layer_types`` tuple accepted (one entry per layer of a real config; a period is shorter).
MAX_LAYER_TYPES = 100_000


def _layer_types(_inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, tuple) or not all(isinstance(k, str) and k in LAYER_KINDS for k in value):
        raise ValueError(f"{attr.name!r} must be a tuple of layer kinds from {sorted(LAYER_KINDS)}, got {value!r}")
    if len(value) > MAX_LAYER_TYPES:
        raise ValueError(
            f"{attr.name!r} has {len(value)} entries; give its repeating period instead (at most {MAX_LAYER_TYPES})"
        )


def _layer_ids(_inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, tuple) or not all(
        isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in value
    ):
        raise ValueError(f"{attr.name!r} must be a tuple of layer indices >= 0, got {value!r}")


@functools.lru_cache(maxsize=4096)
def _layer_counts(a: Architecture) -> dict[str, int]:
    pattern = a.layer_types or ("sliding" if a.sliding_window else "full",)
    whole, rest = divmod(a.n_layers, len(pattern))
    return {kind: whole * pattern.count(kind) + pattern[:rest].count(kind) for kind in LAYER_KINDS}


@attrs.frozen(kw_only=True, cache_hash=True)  # hashed on every cached calculus call
class Architecture:
    """The decoder-only transformer facts that memory and parameter counts depend on.

    ``head_dim`` is explicit because it is not always ``hidden_size / n_heads`` (Gemma-7B:
    3072 / 16 heads, but head_dim 256). ``n_kv_heads`` < ``n_heads`` is grouped-query
    attention (1 is multi-query). For mixture-of-experts models ``n_experts`` > 0, the routed
    experts have ``expert_ffn_size`` each, ``n_shared_experts`` always-on experts have
    ``shared_expert_ffn_size`` each, and the first ``n_dense_layers`` layers use a dense MLP
    of ``ffn_size``. ``extra_params`` counts parameters outside this layout that a checkpoint
    has (OPT's two extra position rows, CPM-Bee's relative-position table), stored like the
    embeddings.

    Later fields (all optional; the defaults describe a plain Llama-style layer):

    - ``rope_scaling_type`` / ``rope_scaling_factor``: config.json ``rope_scaling`` (``linear``,
      ``dynamic``, ``yarn``, ``llama3``, ``longrope``...) and its ``factor``; no parameters.
    - ``qk_norm``: RMSNorm (or bias-free LayerNorm) on queries and keys inside attention: ``head``
      = one norm of ``head_dim`` each for q and k (Qwen3, Gemma3), ``full`` = over all heads,
      ``n_heads*head_dim`` + ``n_kv_heads*head_dim`` (OLMo-2, Cohere ``use_qk_norm``).
    - Multi-head latent attention (DeepSeek-V2/V3) when ``kv_lora_rank`` is set: queries through a
      ``q_lora_rank`` bottleneck (or a plain projection when None), keys/values from a
      ``kv_lora_rank`` latent plus a shared ``qk_rope_head_dim`` rotary key; ``head_dim`` is the
      query/key head size (nope + rope) and ``v_head_dim`` the value head size; ``n_kv_heads``
      equals ``n_heads`` (transformers expands the latent per head).
    - ``attn_sinks``: one learned sink logit per head and layer (gpt-oss).
    - ``router_bias``: the MoE router Linear has a bias (gpt-oss); ``shared_expert_gate``: a
      ``Linear(h, 1)`` gating the shared expert (Qwen2-MoE).
    - MoE layer placement: layer ``i`` (0-based) is a MoE layer when ``n_experts`` > 0,
      ``i >= n_dense_layers``, ``i % moe_layer_step == moe_layer_offset`` and ``i`` is not in
      ``dense_layer_ids`` (DeepSeek ``moe_layer_freq``, Qwen ``decoder_sparse_step`` /
      ``mlp_only_layers``, Llama-4 ``interleave_moe_layer_step``); other layers use the dense MLP
      of ``ffn_size``.
    - ``mtp_layers``: multi-token-prediction modules a checkpoint stores beyond the main model
      (DeepSeek-V3 ``num_nextn_predict_layers``). transformers does not build them and they are
      not in the parameter total; :func:`llmcatalog.param_breakdown` reports them as ``mtp``.
    - ``layer_types``: the kind of each decoder layer (:data:`LAYER_KINDS`), as transformers
      configs' ``layer_types`` list. Layer ``i`` is ``layer_types[i % len(layer_types)]``: a tuple
      of ``n_layers`` entries lists every layer, a shorter one is a period repeated from layer 0
      (Gemma 2 and gpt-oss ``("sliding", "full")``, Gemma 3 five ``sliding`` then one ``full``).
      Empty (the default): every layer is ``sliding`` when ``sliding_window`` is set (Mistral),
      else ``full``. Counts per kind are arithmetic (:meth:`count_layers`), never a loop over
      ``n_layers``.
    - ``conv_kernel`` / ``conv_bias``: the gated short convolution of ``conv`` layers (LFM2
      ``conv_L_cache``, ``conv_bias``): ``in_proj`` ``Linear(h, 3h)``, a depthwise ``Conv1d`` of
      ``conv_kernel`` taps over ``h`` channels and ``out_proj`` ``Linear(h, h)``; its per-sequence
      state is ``h x conv_kernel`` values, whatever the number of tokens.
    """

    family: str = attrs.field(validator=v.slug)
    n_layers: int = attrs.field(validator=v.pos_int)
    hidden_size: int = attrs.field(validator=v.pos_int)
    n_heads: int = attrs.field(validator=v.pos_int)
    n_kv_heads: int = attrs.field(default=attrs.Factory(_default_kv_heads, takes_self=True), validator=v.pos_int)
    head_dim: int = attrs.field(default=attrs.Factory(_default_head_dim, takes_self=True), validator=v.pos_int)
    ffn_size: int = attrs.field(validator=v.pos_int)
    vocab_size: int = attrs.field(validator=v.pos_int)
    max_context: int = attrs.field(validator=v.pos_int)
    tied_embeddings: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))
    mlp: str = attrs.field(default="gated", validator=v.one_of({"gated", "standard"}))
    activation: str = attrs.field(default="silu", converter=_activation_name, validator=v.slug)
    norm: str = attrs.field(default="rmsnorm", validator=v.one_of(NORMS))
    norms_per_layer: int = attrs.field(default=2, validator=v.nonneg_int)
    parallel_block: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))
    embedding_norm: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))
    qkv_bias: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))
    attn_out_bias: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))
    mlp_bias: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))
    lm_head_bias: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))
    position_embedding: str = attrs.field(default="rope", validator=v.one_of({"rope", "alibi", "learned", "none"}))
    sliding_window: int | None = attrs.field(default=None, validator=v.optional(v.pos_int))
    n_experts: int = attrs.field(default=0, validator=v.nonneg_int)
    n_experts_per_token: int | None = attrs.field(default=None, validator=v.optional(v.pos_int))
    expert_ffn_size: int | None = attrs.field(default=None, validator=v.optional(v.pos_int))
    n_shared_experts: int = attrs.field(default=0, validator=v.nonneg_int)
    shared_expert_ffn_size: int | None = attrs.field(default=None, validator=v.optional(v.pos_int))
    n_dense_layers: int = attrs.field(default=0, validator=v.nonneg_int)
    extra_params: int = attrs.field(default=0, validator=v.nonneg_int)
    rope_scaling_type: str | None = attrs.field(default=None, validator=v.optional(v.slug))
    rope_scaling_factor: float | None = attrs.field(default=None, validator=v.optional(v.pos_float))
    qk_norm: str = attrs.field(default="none", validator=v.one_of({"none", "head", "full"}))
    q_lora_rank: int | None = attrs.field(default=None, validator=v.optional(v.pos_int))
    kv_lora_rank: int | None = attrs.field(default=None, validator=v.optional(v.pos_int))
    qk_rope_head_dim: int | None = attrs.field(default=None, validator=v.optional(v.pos_int))
    v_head_dim: int | None = attrs.field(default=None, validator=v.optional(v.pos_int))
    attn_sinks: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))
    router_bias: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))
    shared_expert_gate: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))
    moe_layer_step: int = attrs.field(default=1, validator=v.pos_int)
    moe_layer_offset: int = attrs.field(default=0, validator=v.nonneg_int)
    dense_layer_ids: tuple[int, ...] = attrs.field(default=(), converter=tuple, validator=_layer_ids)
    mtp_layers: int = attrs.field(default=0, validator=v.nonneg_int)
    layer_types: tuple[str, ...] = attrs.field(default=(), converter=tuple, validator=_layer_types)
    conv_kernel: int | None = attrs.field(default=None, validator=v.optional(v.pos_int))
    conv_bias: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))

    def __attrs_post_init__(self) -> None:
        if self.n_heads % self.n_kv_heads:
            raise ValueError(f"'n_heads' ({self.n_heads}) must be a multiple of 'n_kv_heads' ({self.n_kv_heads})")
        if self.n_experts:
            if self.n_experts_per_token is None or self.expert_ffn_size is None:
                raise ValueError(
                    "a mixture-of-experts architecture ('n_experts' > 0) needs "
                    "'n_experts_per_token' and 'expert_ffn_size'"
                )
            if self.n_experts_per_token > self.n_experts:
                raise ValueError("'n_experts_per_token' cannot exceed 'n_experts'")
            if self.n_dense_layers > self.n_layers:
                raise ValueError("'n_dense_layers' cannot exceed 'n_layers'")
        if self.moe_layer_offset >= self.moe_layer_step:
            raise ValueError(
                f"'moe_layer_offset' ({self.moe_layer_offset}) must be below 'moe_layer_step' ({self.moe_layer_step})"
            )
        if any(i >= self.n_layers for i in self.dense_layer_ids):
            raise ValueError(f"'dense_layer_ids' {self.dense_layer_ids} must be below 'n_layers' ({self.n_layers})")
        if self.kv_lora_rank is not None:
            if self.qk_rope_head_dim is None or self.v_head_dim is None:
                raise ValueError(
                    "multi-head latent attention ('kv_lora_rank') needs 'qk_rope_head_dim' and 'v_head_dim'"
                )
            if self.qk_rope_head_dim >= self.head_dim:
                raise ValueError(
                    f"'qk_rope_head_dim' ({self.qk_rope_head_dim}) must be below 'head_dim' ({self.head_dim}), "
                    "which is the nope + rope query/key head size"
                )
            if self.n_kv_heads != self.n_heads:
                raise ValueError("multi-head latent attention ('kv_lora_rank') needs 'n_kv_heads' == 'n_heads'")
        elif self.q_lora_rank is not None:
            raise ValueError("'q_lora_rank' is only meaningful with 'kv_lora_rank' (multi-head latent attention)")
        if len(self.layer_types) > self.n_layers:
            raise ValueError(
                f"'layer_types' has {len(self.layer_types)} entries but 'n_layers' is {self.n_layers}; "
                "give one kind per layer or a shorter repeating period"
            )
        if "sliding" in self.layer_types and self.sliding_window is None:
            raise ValueError("'layer_types' has 'sliding' layers: give their 'sliding_window'")
        if "conv" in self.layer_types and self.conv_kernel is None:
            raise ValueError("'layer_types' has 'conv' layers: give their 'conv_kernel' (LFM2 conv_L_cache)")

    def is_moe_layer(self, layer: int) -> bool:
        """True when decoder layer ``layer`` (0-based) is a mixture-of-experts layer."""
        return (
            self.n_experts > 0
            and layer >= self.n_dense_layers
            and layer % self.moe_layer_step == self.moe_layer_offset
            and layer not in self.dense_layer_ids
        )

    @property
    def n_moe_layers(self) -> int:
        """How many decoder layers are mixture-of-experts layers."""
        if not self.n_experts:
            return 0

        def below(n: int) -> int:  # layers i < n with i % step == offset
            return max(0, (n - self.moe_layer_offset + self.moe_layer_step - 1) // self.moe_layer_step)

        start = min(self.n_dense_layers, self.n_layers)
        excluded = sum(
            1 for i in set(self.dense_layer_ids) if start <= i and i % self.moe_layer_step == self.moe_layer_offset
        )
        return below(self.n_layers) - below(start) - excluded

    def count_layers(self, kind: str) -> int:
        """How many decoder layers are of ``kind`` (:data:`LAYER_KINDS`); O(len(layer_types)), once."""
        counts = _layer_counts(self)
        if kind not in counts:
            raise ValueError(f"layer kind must be one of {sorted(LAYER_KINDS)}, got {kind!r}")
        return counts[kind]

    @property
    def n_attention_layers(self) -> int:
        """Decoder layers with attention (full or sliding), which hold a KV cache."""
        return self.n_layers - self.count_layers("conv")

    @property
    def is_mla(self) -> bool:
        """True for multi-head latent attention (DeepSeek-V2/V3)."""
        return self.kv_lora_rank is not None

    @property
    def is_moe(self) -> bool:
        """True for a mixture-of-experts architecture."""
        return self.n_experts > 0

    @property
    def kv_groups(self) -> int:
        """Query heads per KV head (1 = MHA, ``n_heads`` = MQA)."""
        return self.n_heads // self.n_kv_heads


@attrs.frozen(kw_only=True)
class Component:
    """One part of a multimodal system: its language model, vision or audio encoder, projector...

    ``n_params`` is the part's exact parameter count where a source gives it (the language model's
    is filled in from the architecture); ``source`` is where that count comes from: the config or
    code (at a commit) that fixes the part's shapes, or the page that states a published size.
    """

    role: str = attrs.field(validator=v.one_of(_COMPONENT_ROLES))
    name: str = attrs.field(validator=attrs.validators.min_len(1))
    model: str | None = attrs.field(default=None, validator=v.optional(v.slug))
    n_params: int | None = attrs.field(default=None, validator=v.optional(v.pos_int))
    source: str | None = attrs.field(default=None, validator=v.optional(v.url))


@attrs.frozen(kw_only=True)
class PublishedFigure:
    """A GPU-memory (or hardware) figure that a model's authors published, with its setting.

    ``memory_value`` is exactly as printed, in ``memory_unit``; ``None`` for qualitative
    statements (``metric="fits"``: "runs on one A100 40GB"; ``metric="oom"``). ``per_gpu``
    says whether a multi-GPU figure is per GPU (True) or the total over ``n_gpus`` (False).
    ``quote`` holds the source's own words. Settings the source does not pin down are ``None``.
    ``torch_version`` ("2.0" or ">=2.1") is the PyTorch the figure was measured with, where it changes
    memory (``Parallelism.torch_version``).
    ``framework`` names the software that produced the figure when it is not Hugging Face
    transformers (``litgpt``, ``deepspeed``, the model's own remote code). ``exact_setting`` is
    True only when the source (or the default scripts at the commit that produced the figure)
    pins down every setting that changes memory; :func:`llmcatalog.compare_figure` holds such
    figures to the accuracy target. ``claimed_by`` names who states a number that nobody
    measured (a survey quoting an LLM's answer): such a figure is kept as that claim,
    :func:`llmcatalog.compare_figure` never compares it, and it is out of accuracy statistics.
    """

    workload: str = attrs.field(validator=v.one_of(FIGURE_WORKLOADS))
    metric: str = attrs.field(validator=v.one_of(FIGURE_METRICS))
    source: str = attrs.field(validator=v.url)
    memory_value: float | None = attrs.field(default=None, validator=v.optional(v.pos_float))
    memory_unit: str | None = attrs.field(default=None, validator=v.optional(v.one_of(MEMORY_UNITS)))
    precision: str | None = None
    batch_size: int | None = attrs.field(default=None, validator=v.optional(v.pos_int))
    seq_len: int | None = attrs.field(default=None, validator=v.optional(v.pos_int))
    gen_len: int | None = attrs.field(default=None, validator=v.optional(v.pos_int))
    n_gpus: int = attrs.field(default=1, validator=v.pos_int)
    gpu: str | None = None
    per_gpu: bool = attrs.field(default=True, validator=attrs.validators.instance_of(bool))
    method: str | None = None
    framework: str | None = None
    attention: str | None = attrs.field(default=None, validator=v.optional(v.one_of({"eager", "sdpa", "flash"})))
    mixed_precision: bool | None = None
    lora_rank: int | None = attrs.field(default=None, validator=v.optional(v.pos_int))
    lora_targets: tuple[str, ...] = attrs.field(default=(), converter=tuple, validator=v.str_tuple)
    lora_dropout: float | None = None
    prefix_tokens: int | None = attrs.field(default=None, validator=v.optional(v.pos_int))
    train_embeddings: bool | None = None
    gradient_checkpointing: bool | None = None
    optimizer: str | None = None
    zero_stage: int | None = attrs.field(default=None, validator=v.optional(v.one_of({0, 1, 2, 3})))  # type: ignore[arg-type]
    fsdp: str | None = attrs.field(default=None, validator=v.optional(v.one_of({"full-shard", "shard-grad-op"})))
    torch_version: str | None = attrs.field(default=None, validator=v.optional(v.one_of({"2.0", ">=2.1"})))
    exact_setting: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))
    duration: str | None = None
    quote: str | None = None
    note: str | None = None
    claimed_by: str | None = attrs.field(default=None, validator=v.optional(attrs.validators.min_len(1)))

    def __attrs_post_init__(self) -> None:
        if self.memory_value is not None and self.memory_unit is None:
            raise ValueError("'memory_unit' is required when 'memory_value' is given")

    @property
    def memory_bytes(self) -> int | None:
        """The figure in bytes (per GPU when ``per_gpu``), or None for qualitative figures."""
        if self.memory_value is None or self.memory_unit is None:
            return None
        scale = {"GB": 10**9, "GiB": 2**30, "MB": 10**6, "MiB": 2**20}[self.memory_unit]
        return round(self.memory_value * scale)


@attrs.frozen(kw_only=True)
class Model:
    """One model in the catalog.

    ``base_model`` is the id of the model this one was fine-tuned or continued from
    (lineage). A model without an ``architecture`` of its own inherits its base model's
    when the catalog is built; ``architecture_from`` then names the model it came from.
    ``n_params`` is the exact parameter count where a source or the architecture gives it;
    ``size_label`` is the nominal size the authors use ("7B"). ``architecture_type`` says what
    kind of network it is when that is not a decoder-only transformer (T5 and BART are
    ``encoder-decoder``, RWKV is ``rnn``, GLM-10B/130B are ``prefix-lm``): such models have no
    :class:`Architecture` and cannot be estimated. ``weight_format`` is how the checkpoint stores
    its weights when it is quantized (read from ``quantization_config`` by :meth:`from_hf_config`);
    ``None`` for checkpoints in a plain dtype. An :class:`~llmcatalog.Inference` without a
    ``precision`` is estimated in that format.

    ``architecture_differs`` says why the model does *not* have its base model's architecture
    (vocabulary extended, distilled to another size, layers added): set, the catalog does not
    inherit the base's architecture, and the model has its own or none.

    Multimodal models: ``n_params`` is the total of every component (language model, vision or
    audio encoders, projector); ``components`` give the split (the language model's count is
    filled in from its architecture). When a component's size is unknown and no source states
    the total, ``n_params`` is ``None``.
    """

    id: str = attrs.field(validator=v.slug)
    name: str = attrs.field(validator=attrs.validators.min_len(1))
    domain: str = attrs.field(validator=v.slug)
    sources: tuple[str, ...] = attrs.field(default=(), converter=tuple, validator=v.urls)
    aliases: tuple[str, ...] = attrs.field(default=(), converter=tuple, validator=v.str_tuple)
    subdomains: tuple[str, ...] = attrs.field(
        default=(), converter=tuple, validator=attrs.validators.deep_iterable(v.slug)
    )
    modality: str = attrs.field(default="text", validator=v.one_of(MODALITIES))
    variant: str | None = attrs.field(default=None, validator=v.optional(v.one_of(VARIANTS)))
    series: str | None = attrs.field(default=None, validator=v.optional(v.slug))
    organization: str | None = None
    release_date: str | None = attrs.field(default=None, validator=v.optional(v.date_str))
    license: str | None = None
    open_weights: bool | None = None
    languages: tuple[str, ...] = attrs.field(
        default=(), converter=tuple, validator=attrs.validators.deep_iterable(v.slug)
    )
    links: Links = attrs.field(factory=Links)
    base_model: str | None = attrs.field(default=None, validator=v.optional(v.slug))
    n_params: int | None = attrs.field(default=None, validator=v.optional(v.pos_int))
    size_label: str | None = None
    architecture_type: str | None = attrs.field(default=None, validator=v.optional(v.one_of(ARCHITECTURE_TYPES)))
    architecture: Architecture | None = None
    architecture_from: str | None = attrs.field(default=None, validator=v.optional(v.slug))
    components: tuple[Component, ...] = attrs.field(default=(), converter=_components_tuple)
    description: str | None = None
    description_zh: str | None = None
    figures: tuple[PublishedFigure, ...] = attrs.field(default=(), converter=_components_tuple)
    notes: str | None = None
    weight_format: WeightFormat | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.instance_of(WeightFormat))
    )
    architecture_differs: str | None = attrs.field(default=None, validator=v.optional(attrs.validators.min_len(1)))

    def __attrs_post_init__(self) -> None:
        if self.base_model == self.id:
            raise ValueError(f"'base_model' of {self.id!r} names the model itself")

    @property
    def is_closed(self) -> bool:
        """True when the weights are known not to be published."""
        return self.open_weights is False

    def __repr__(self) -> str:
        # The attrs repr printed every field, figures and descriptions included (25,000 characters for
        # Llama-2-7B): this one names the model; equality and hashing still use every field.
        params = f", n_params={self.n_params}" if self.n_params else ""
        return f"Model(id={self.id!r}, name={self.name!r}, domain={self.domain!r}{params}, ...)"

    def _summary(self) -> list[tuple[str, object]]:
        a = self.architecture
        arch = None
        if a is not None:
            arch = (
                f"{a.family}: {a.n_layers} layers, hidden {a.hidden_size}, {a.n_heads} heads "
                f"({a.n_kv_heads} KV), FFN {a.ffn_size}, vocab {a.vocab_size}"
                + (f", MoE {a.n_experts} experts top-{a.n_experts_per_token}" if a.is_moe else "")
            )
        rows: list[tuple[str, object]] = [
            ("id", self.id),
            ("name", self.name),
            ("domain", self.domain),
            ("organization", self.organization),
            ("parameters", f"{self.n_params:,}" if self.n_params else self.size_label),
            ("base model", self.base_model),
            ("open weights", {True: "yes", False: "no (API only)", None: "unknown"}[self.open_weights]),
            ("licence", self.license),
            ("released", self.release_date),
            ("languages", ", ".join(self.languages)),
            ("architecture", arch),
            ("max context", f"{a.max_context:,} tokens" if a is not None else None),
            ("weights stored as", self.weight_format.description if self.weight_format else None),
        ]
        return [(k, val) for k, val in rows if val not in (None, "")]

    def _repr_html_(self) -> str:
        """A table of the model's key facts (Jupyter shows it)."""
        return render.html_table(["field", "value"], self._summary(), caption=self.name)

    def to_markdown(self) -> str:
        """The model's key facts as a two-column markdown table."""
        return render.markdown_table(["field", "value"], self._summary())

    @classmethod
    def from_hf_config(cls, config: dict[str, Any], **fields: Any) -> Model:
        """Build a Model from a Hugging Face ``config.json`` mapping.

        The architecture and the exact parameter count come from the config; ``fields``
        (``id``, ``name``, ``domain``, ``sources``, ...) override the defaults, which are
        derived from ``_name_or_path`` when present. See :func:`llmcatalog.architecture_from_hf_config`
        for the families understood.
        """
        if _hf_config_reader is None:  # pragma: no cover - installed by llmcatalog/__init__ on import
            raise RuntimeError("no Hugging Face config reader installed: import llmcatalog first")
        return _hf_config_reader(config, **fields)


#: The reader behind :meth:`Model.from_hf_config`. Values never import the importers (the wing above
#: them, docs/architecture.md): the package's ``__init__``, a face, installs a reader that imports
#: ``llmcatalog.importers.hfconfig`` on first use (dependency inversion, no import cycle).
_hf_config_reader: Callable[..., Model] | None = None


def install_hf_config_reader(reader: Callable[..., Model]) -> None:
    """Install the function :meth:`Model.from_hf_config` delegates to (done by ``import llmcatalog``)."""
    global _hf_config_reader
    _hf_config_reader = reader
