"""Framework profiles: what each fine-tuning tool does by default, as :class:`FineTune` settings.

``FineTune.for_framework(name, version, **settings)`` starts from a profile and lets every given
setting win. Each profile names the release it describes and the source files its defaults were
read from (repository, path, commit); where a default changed between releases, each release with
a different default is its own profile and the newest is used when no version is given. What a
profile cannot say (the model's own size, the batch, the sequence length, the user's LoRA targets
when the tool has no default) keeps :class:`FineTune`'s own default. ``docs/finetuning-methods.md``
describes them in prose.

The settings a tool changes, and how each maps to a field:

- gradient checkpointing (``gradient_checkpointing``; unsloth's CPU-offloaded variant: ``offload_checkpoints``),
- the precision regime (``mixed_precision``: fp32 trainable weights under autocast; ``False``: pure 16-bit;
  ``frozen_precision="fp32"``: litgpt's ``bf16-mixed``, which keeps the frozen weights in fp32 too),
- the optimizer and its implementation (``optimizer_impl``: foreach / fused; transformers >= 5 with
  torch >= 2.8 defaults to ``adamw_torch_fused``),
- the loss (``loss``: transformers' full fp32 logits, torchtune's chunked output, TRL's chunked tokens,
  fused linear cross-entropy),
- the attention kernel (``attention``), LoRA defaults (rank, targets, dropout),
- how transformers lays out mixture-of-experts weights (``moe_layout``: 4.x per-expert Linears, 5.x fused).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

from ..errors import WorkloadError

__all__ = ["FRAMEWORKS", "FRAMEWORK_ALIASES", "FrameworkProfile", "check_framework", "framework_name", "profile"]


@attrs.frozen(kw_only=True)
class FrameworkProfile:
    """One release of one tool: ``defaults`` (FineTune fields), ``per_method`` (fields that differ by
    method), ``refuses`` (methods it cannot run), ``source`` (where the defaults were read, with commit),
    ``notes`` (what it cannot express)."""

    name: str
    version: str
    source: str
    defaults: Mapping[str, Any]
    per_method: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)
    #: Methods the tool cannot run, each with the reason and the fix (a WorkloadError when asked).
    refuses: Mapping[str, str] = attrs.field(factory=dict)
    notes: str = ""


_PEFT = ("lora", "qlora", "p-tuning-v2", "prefix-tuning", "llama-adapter")

#: Profiles by tool, newest release first. Sources are public files at the commits named.
FRAMEWORKS: dict[str, tuple[FrameworkProfile, ...]] = {
    "transformers": (
        FrameworkProfile(
            name="transformers",
            version="5",
            source="huggingface/transformers 5.24 src/transformers/training_args.py (optim default "
            "'adamw_torch_fused' when torch >= 2.8, activation/gradient checkpointing off, bf16 off unless asked)",
            # gradient_checkpointing left out (None, the method's recipe): the Trainer's own default is off,
            # but a QLoRA script calls PEFT's prepare_model_for_kbit_training, whose use_gradient_checkpointing
            # defaults to True (huggingface/peft src/peft/utils/other.py), so a k-bit base trains with it on.
            defaults={
                "optimizer": "adamw",
                "optimizer_impl": "fused",
                "loss": "full-logits",
                "moe_layout": "transformers-5",
                "attention": "sdpa",
            },
            notes="Trainer(bf16=True) on a bf16 checkpoint with PEFT: fp32 adapters (PEFT autocast_adapter_dtype) "
            "under autocast, i.e. mixed_precision=True. Full fine-tuning of a model loaded in bf16 is pure bf16: "
            "pass mixed_precision=False.",
        ),
        FrameworkProfile(
            name="transformers",
            version="4",
            source="huggingface/transformers v4.46-v4.57 src/transformers/training_args.py (optim 'adamw_torch': "
            "torch.optim.AdamW, foreach by default on CUDA since torch 2.0); models/mixtral/modeling_mixtral.py "
            "(one nn.Linear per expert)",
            defaults={  # gradient_checkpointing: the method's recipe, as in transformers 5 above
                "optimizer": "adamw",
                "optimizer_impl": "foreach",
                "loss": "full-logits",
                "moe_layout": "transformers-4",
                "attention": "sdpa",
            },
            notes="torch < 2.0 stepped AdamW parameter by parameter: optimizer_impl='for-loop'.",
        ),
    ),
    "trl": (
        FrameworkProfile(
            name="trl",
            version="1.7",
            source="huggingface/trl@f2cd577 trl/trainer/sft_config.py (gradient_checkpointing=True and bf16=True "
            "by default, PR #3510, v0.22; loss_type 'chunked_nll' by default, PR #5846, v1.7) and "
            "trl/trainer/sft_trainer.py (_CHUNKED_LM_HEAD_CHUNK_SIZE = 256)",
            defaults={
                "optimizer": "adamw",
                "optimizer_impl": "fused",
                "gradient_checkpointing": True,
                "mixed_precision": True,
                "loss": "chunked-tokens",
                "moe_layout": "transformers-5",
                "attention": "sdpa",
            },
            per_method={"full": {"mixed_precision": False}},
            notes="SFTTrainer loads the checkpoint in its own dtype (bf16): full fine-tuning is pure bf16 "
            "(mixed_precision=False); PEFT adapters are upcast to fp32 (autocast_adapter_dtype).",
        ),
        FrameworkProfile(
            name="trl",
            version="0.22",
            source="huggingface/trl@a222aeb trl/trainer/sft_config.py (PR #3510: gradient_checkpointing=True, "
            "bf16=True); loss: transformers ForCausalLMLoss",
            defaults={
                "optimizer": "adamw",
                "optimizer_impl": "foreach",
                "gradient_checkpointing": True,
                "mixed_precision": True,
                "loss": "full-logits",
                "moe_layout": "transformers-4",
                "attention": "sdpa",
            },
            per_method={"full": {"mixed_precision": False}},
        ),
        FrameworkProfile(
            name="trl",
            version="0.21",
            source="huggingface/trl v0.21 trl/trainer/sft_config.py (TrainingArguments defaults: no gradient "
            "checkpointing) and trl/trainer/sft_trainer.py (_prepare_model_for_kbit_training passes "
            "args.gradient_checkpointing to PEFT: off for QLoRA too)",
            defaults={
                "optimizer": "adamw",
                "optimizer_impl": "foreach",
                "gradient_checkpointing": False,
                "mixed_precision": True,
                "loss": "full-logits",
                "moe_layout": "transformers-4",
                "attention": "sdpa",
            },
            per_method={"full": {"mixed_precision": False}},
        ),
    ),
    "llama-factory": (
        FrameworkProfile(
            name="llama-factory",
            version="0.9",
            source="hiyouga/LLaMA-Factory@ff6d4d1 src/llamafactory/hparams/model_args.py "
            "(disable_gradient_checkpointing=False: checkpointing on), hparams/finetuning_args.py (finetuning_type "
            "'lora', lora_rank 8, lora_alpha 2*rank, lora_dropout 0, lora_target 'all'), model/adapter.py "
            "(trainable parameters cast to fp32 unless pure_bf16 or ZeRO-3 without quantization)",
            defaults={
                "method": "lora",
                "optimizer": "adamw",
                "optimizer_impl": "fused",
                "gradient_checkpointing": True,
                "mixed_precision": True,
                "lora_rank": 8,
                "lora_alpha": 16,
                "lora_dropout": 0.0,
                "lora_targets": ("all-linear",),
                "loss": "full-logits",
                "moe_layout": "transformers-5",
                "attention": "sdpa",
            },
            notes="flash_attn 'auto' picks SDPA; pure_bf16=True is mixed_precision=False. Its DeepSpeed "
            "configs (examples/deepspeed/ds_z*_config.json) go through Parallelism.",
        ),
    ),
    "axolotl": (
        FrameworkProfile(
            name="axolotl",
            version="0.18",
            source="axolotl-ai-cloud/axolotl@067b021 src/axolotl/utils/schemas/config.py (gradient_checkpointing "
            "False, bf16 'auto'), schemas/training.py (optimizer 'adamw_torch_fused'), schemas/peft.py "
            "(lora_dropout 0.0), loaders/model.py (prepare_model_for_kbit_training with the config's "
            "gradient_checkpointing; embeddings converted back to the model dtype)",
            defaults={
                "optimizer": "adamw",
                "optimizer_impl": "fused",
                "gradient_checkpointing": False,
                "mixed_precision": True,
                "lora_dropout": 0.0,
                "upcast_non_quantized": False,
                "loss": "full-logits",
                "moe_layout": "transformers-5",
                "attention": "sdpa",
            },
            notes="Its example configs turn gradient_checkpointing and flash attention on; pass them. "
            "gradient_checkpointing=False holds for QLoRA too: loaders/model.py passes the config's "
            "gradient_checkpointing (default False) to prepare_model_for_kbit_training "
            "(use_gradient_checkpointing=...). "
            "lora_r has no default (required in a config).",
        ),
    ),
    "litgpt": (
        FrameworkProfile(
            name="litgpt",
            version="0.5",
            source="Lightning-AI/litgpt@2685705 litgpt/finetune/lora.py (lora_r 8, alpha 16, dropout 0.05, "
            "query and value; AdamW; no activation checkpointing on one device) and litgpt/utils.py "
            "(get_default_supported_precision(training=True) -> 'bf16-mixed': fp32 weights under autocast)",
            defaults={
                "optimizer": "adamw",
                "optimizer_impl": "foreach",
                "gradient_checkpointing": False,
                "mixed_precision": True,
                "lora_rank": 8,
                "lora_alpha": 16,
                "lora_dropout": 0.05,
                "lora_targets": ("q_proj", "v_proj"),
                "loss": "full-logits",
                "attention": "sdpa",
                "upcast_non_quantized": False,
            },
            per_method={
                **{m: {"frozen_precision": "fp32"} for m in _PEFT if m != "qlora"},
                "qlora": {"mixed_precision": False},  # litgpt refuses quantization with a '-mixed' precision
            },
            refuses={
                m: "litgpt's fine-tuning scripts (litgpt/finetune/: full.py, lora.py with --quantize for QLoRA, "
                "adapter.py and adapter_v2.py for LLaMA-Adapter) have no "
                + what
                + "; use method='full', 'lora', 'qlora' or 'llama-adapter', or another framework "
                "(transformers, llama-factory) for it"
                for m, what in (
                    ("freeze", "freeze (last-layers) tuning"),
                    ("p-tuning-v2", "P-Tuning v2"),
                    ("prefix-tuning", "prefix tuning"),
                )
            },
            notes="'bf16-mixed' keeps every weight in fp32; its resource tables use --precision bf16-true "
            "(mixed_precision=False, frozen_precision=None). Quantized bases need a '-true' precision. "
            "litgpt's LLaMA-Adapter starts at layer 2 (adapter_start_layer): adapter_layers = n_layers - 2. "
            "Its own model code is followed where it differs (docs/litgpt.md): a fused GELU, and under "
            "bitsandbytes an untied LM head quantized with the Linears and dequantized in fp16 + bf16.",
        ),
    ),
    "unsloth": (
        FrameworkProfile(
            name="unsloth",
            version="2026.8",
            source="unslothai/unsloth@015bdef unsloth/models/loader.py (load_in_4bit=True, "
            "use_gradient_checkpointing='unsloth': layer inputs offloaded to CPU) and unsloth/models/llama.py "
            "(get_peft_model: r=16, lora_alpha=16, lora_dropout=0.0, target_modules q/k/v/o/gate/up/down_proj: "
            "all seven projections of a Llama block, as in its README and notebooks); fused cross-entropy; trains "
            "through TRL's SFTTrainer",
            defaults={
                "method": "qlora",
                "qlora_format": "bnb-nf4",
                "optimizer": "adamw",
                "optimizer_impl": "fused",
                "gradient_checkpointing": True,
                "offload_checkpoints": True,
                "mixed_precision": True,
                "lora_rank": 16,
                "lora_alpha": 16,
                "lora_dropout": 0.0,
                "lora_targets": ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
                "loss": "fused-linear",
                "attention": "flash",
            },
            notes="Its notebooks use optim='adamw_8bit' (optimizer='adamw-8bit').",
        ),
    ),
    "torchtune": (
        FrameworkProfile(
            name="torchtune",
            version="0.7",
            source="pytorch/torchtune@bd2a0fc recipes/configs/llama3_1/8B_lora_single_device.yaml (dtype bf16, "
            "enable_activation_checkpointing True, AdamW fused=True, LinearCrossEntropyLoss, LoRA r 8 alpha 16 "
            "on q, v, output and the MLP) and torchtune/modules/loss/cross_entropy_loss.py (num_output_chunks 8)",
            defaults={
                "optimizer": "adamw",
                "optimizer_impl": "fused",
                "gradient_checkpointing": True,
                "mixed_precision": False,
                "lora_rank": 8,
                "lora_alpha": 16,
                "lora_dropout": 0.0,
                "lora_targets": ("q_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
                "loss": "chunked-output",
                "attention": "sdpa",
            },
            notes="torchtune trains in pure bf16 (adapters too): mixed_precision=False.",
        ),
    ),
    "deepspeed-chat": (
        FrameworkProfile(
            name="deepspeed-chat",
            version="0.1",
            source="deepspeedai/DeepSpeedExamples@45b4b71 applications/DeepSpeed-Chat/training/"
            "step1_supervised_finetuning/main.py (--dtype fp16, --zero_stage 0, --gradient_checkpointing off, "
            "FusedAdam, lora_dim 0: full fine-tuning)",
            defaults={
                "method": "full",
                "precision": "fp16",
                "optimizer": "adamw",
                "optimizer_impl": "fused",
                "gradient_checkpointing": False,
                "mixed_precision": True,
                "loss": "full-logits",
                "attention": "sdpa",
            },
            refuses={
                "qlora": "DeepSpeed-Chat loads the base with from_pretrained in --dtype (fp16/bf16) and has no "
                "quantized-base option (step1 main.py: --lora_dim adds LoRA to a 16-bit model); use "
                "method='lora', or another framework (transformers, trl, llama-factory, axolotl, unsloth) for QLoRA",
            },
            notes="DeepSpeed's fp16 engine keeps an fp16 model with fp32 master weights and fp32 Adam states "
            "(16 bytes/parameter, as AMP's 4+4+8); ZeRO stages go through Parallelism. No QLoRA or k-bit bases.",
        ),
    ),
}


def _key(name: str) -> str:
    """A framework name without case, ``-``, ``_`` or spaces: ``LLaMA-Factory`` = ``llama_factory``."""
    return re.sub(r"[-_.\s]", "", name.lower())


#: Other names users give the frameworks (README calls transformers "the HF Trainer").
FRAMEWORK_ALIASES = {
    "hf": "transformers",
    "huggingface": "transformers",
    "hf trainer": "transformers",
    "hf transformers": "transformers",
    "hugging face trainer": "transformers",
    "hugging face transformers": "transformers",
    "transformers trainer": "transformers",
    "trainer": "transformers",
    "hf trl": "trl",
    "hugging face trl": "trl",
    "ds-chat": "deepspeed-chat",
    "dschat": "deepspeed-chat",
    "lit-gpt": "litgpt",
}
_BY_KEY = {_key(n): n for n in FRAMEWORKS} | {_key(a): n for a, n in FRAMEWORK_ALIASES.items()}


def framework_name(name: object) -> str:
    """The profile name of ``name`` or of an alias in :data:`FRAMEWORK_ALIASES` (case, ``-``, ``_``, ``.`` and
    spaces ignored: ``"Hugging Face Trainer"`` is ``transformers``); WorkloadError naming the choices."""
    if not isinstance(name, str):
        raise WorkloadError(f"framework must be a name such as 'llama-factory', got {name!r}")
    found = _BY_KEY.get(_key(name))
    if found is None:
        raise WorkloadError(
            f"framework={name!r} is not one llmcatalog knows; choose one of {sorted(FRAMEWORKS)} "
            f"(also: {', '.join(sorted(FRAMEWORK_ALIASES))})"
        )
    return found


def _release(version: str) -> tuple[int, ...] | None:
    """``"4.57.1"`` -> (4, 57, 1); a leading ``v`` and a suffix such as ``.dev0`` or ``+cu121`` are ignored."""
    m = re.match(r"\s*v?(\d+(?:\.\d+)*)", version)
    return tuple(int(x) for x in m.group(1).split(".")) if m else None


def profile(name: str, version: str | None = None) -> FrameworkProfile:
    """The profile of ``name`` at ``version`` (the newest when None); WorkloadError naming the choices.

    ``version`` may be any release string (``"4.57"``, ``"5.0"``, ``"0.22.1"``): the profile used is that of
    the newest release whose defaults changed at or before it (each profile is such a release; transformers'
    ``"4"`` covers 4.x). A release older than every profile is refused (its defaults are not described)."""
    profiles = FRAMEWORKS[framework_name(name)]
    if version is None:
        return profiles[0]
    for p in profiles:
        if p.version == version:
            return p
    given = _release(version) if isinstance(version, str) else None
    if given is not None:
        for p in profiles:  # newest first
            if given >= (_release(p.version) or ()):
                return p
    raise WorkloadError(
        f"framework_version={version!r} of {profiles[0].name}: the profiles are {[p.version for p in profiles]} "
        "(each is the release whose defaults changed; a newer release uses the newest profile at or before it); "
        "leave it out for the newest"
    )


def check_framework(name: object, version: object, method: str | None = None) -> None:
    """WorkloadError unless ``name``/``version`` name a known profile (``version`` needs ``name``) that
    can run ``method``."""
    if name is None:
        raise WorkloadError("framework_version needs framework (e.g. framework='trl', framework_version='0.22')")
    if version is not None and not isinstance(version, str):
        raise WorkloadError(f"framework_version must be a string such as '0.22', got {version!r}")
    prof = profile(name, version)  # type: ignore[arg-type]
    if method is not None and method in prof.refuses:
        raise WorkloadError(f"framework={prof.name!r} cannot run method={method!r}: {prof.refuses[method]}")
