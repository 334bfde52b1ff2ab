"""The ``llmcatalog`` command line: quick questions about the catalog and GPU memory.

    llmcatalog estimate "Llama-2-7b" --gpu "RTX 4090"
    llmcatalog estimate chatglm3-6b --finetune lora --seq-len 384 --gpu a100-sxm4-80gb
    llmcatalog plan llama-3.1-70b --precision awq-int4 --context 32768   # which catalog GPUs fit it
    llmcatalog plan qwen2.5-7b --finetune lora --gpu "RTX 4090"           # the verdict and the remedies
    llmcatalog fit --gpu "RTX 4090" --context 8192                        # the models that fit a GPU
    llmcatalog list models --domain medical
    llmcatalog search 华佗
    llmcatalog show qwen-7b-chat
    llmcatalog lineage llama-7b
    llmcatalog validate my_models.toml

Exit status: 0 on success, 1 when the answer is "does not fit", 2 on bad input.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import attrs

from ..errors import (
    AmbiguousGPUError,
    ContextLengthWarning,
    DeepSpeedWorkloadWarning,
    LLMCatalogError,
    MissingGPUFigureError,
    NoFitWarning,
    UncountedPartsWarning,
    UnknownModelError,
    WorkloadError,
)
from ..memory import estimate as _estimate
from ..memory.estimate import check
from ..memory.fit import HEADROOM_FRACTION, FitCheck, fit_check
from ..memory.params import param_breakdown
from ..planning import Remedy, max_context, models_that_fit, recommend, which_gpus
from ..planning.sweep import workload_label
from ..registry.catalog import Catalog, FamilyNameError
from ..registry.names import normalize
from ..registry.plugins import catalog, load_toml
from ..registry.resolve import is_ollama_tag, ollama_tag_quant, resolve_model
from ..values.compat import runtime_name, single_device, supports
from ..values.frameworks import FRAMEWORKS, framework_name
from ..values.gpu import ALLOCATABLE_FALLBACK_FRACTION, GPU
from ..values.model import Model
from ..values.render import share
from ..values.tool import Tool
from ..values.workload import (
    ATTENTION_IMPLEMENTATIONS,
    BASE_FORMATS,
    COMPUTE_DTYPES,
    INFERENCE_FRAMEWORKS,
    KV_CACHE_DTYPES,
    LOOPS,
    LOSS_IMPLS,
    METHODS,
    MLA_CACHE_LAYOUTS,
    MOE_LAYOUTS,
    OPTIMIZER_IMPLS,
    OPTIMIZERS,
    PRECISIONS,
    FineTune,
    Inference,
    Parallelism,
)
from . import engines_llamacpp as _engines_llamacpp
from .engines import add_engine_options, engine_requested, run_engine_estimate
from .output import Column, add_format_option, chosen_format, clean, render, render_sections, table, to_json

__all__ = ["main"]

GIB = 2**30


# -- formatting (cli/output.py: --format table|json|markdown|csv) ----------------------------
_clean = clean


def _params(n: int | None) -> str:
    if n is None:
        return "?"
    if n >= 10**9:
        return f"{n / 1e9:.2f}B"
    return f"{n / 1e6:.0f}M"


def _gib(n: int | float | None) -> str:
    return "" if n is None else f"{n / GIB:.2f}"


# -- commands ------------------------------------------------------------------------------
def _gpu_row(g: GPU) -> dict[str, Any]:
    return {
        "id": g.id,
        "name": g.name,
        "vendor": g.vendor,
        "memory_bytes": g.memory_bytes,
        "available_bytes": g.available_bytes,
        "memory_type": g.memory_type,
        "bandwidth_gb_s": g.bandwidth_gb_s,
        "fp32_tflops": g.fp32_tflops,
        "tflops_16bit": g.bf16_tflops or g.fp16_tflops,
    }


_GPU_COLUMNS = (
    Column("id"),
    Column("name"),
    Column("vendor"),
    Column("memory_bytes", "GiB", lambda r: _gib(r["memory_bytes"]), right=True),
    Column("memory_type", "memory"),
    Column("bandwidth_gb_s", "GB/s", right=True),
    Column("fp32_tflops", "FP32 TFLOPS", right=True),
    Column("tflops_16bit", "16-bit TFLOPS", right=True),
)
_TOOL_COLUMNS = (Column("id"), Column("name"), Column("category"), Column("url"))


def _tool_row(t: Tool) -> dict[str, Any]:
    return {"id": t.id, "name": t.name, "category": t.category, "url": t.url}


def _cmd_list(args: argparse.Namespace, cat: Catalog) -> int:
    fmt = chosen_format(args)
    if args.what == "gpus":
        print(render([_gpu_row(g) for g in cat.gpus], _GPU_COLUMNS, fmt))
        return 0
    if args.what == "tools":
        print(render([_tool_row(t) for t in cat.tools], _TOOL_COLUMNS, fmt))
        return 0
    if args.what == "domains":
        rows = [{"domain": d, "models": n} for d, n in cat.domains().items()]
        print(render(rows, (Column("domain"), Column("models", right=True)), fmt))
        return 0
    models = cat.find_models(
        domain=args.domain,
        subdomain=args.subdomain,
        organization=args.org,
        language=args.language,
        modality=args.modality,
        open_weights=True if args.open else None,
        min_params=args.min_params,
        max_params=args.max_params,
        base_model=args.base,
    )
    print(_models_table(models, fmt))
    if fmt == "table":
        print(f"\n{len(models)} model(s)")
    return 0


def _model_summary(m: Model) -> dict[str, Any]:
    return {
        "id": m.id,
        "name": m.name,
        "domain": m.domain,
        "organization": m.organization,
        "n_params": m.n_params,
        "base_model": m.base_model,
        "open_weights": m.open_weights,
        "aliases": list(m.aliases),
        "size_label": m.size_label,
    }


_MODEL_COLUMNS = (
    Column("id"),
    Column("name"),
    Column("domain"),
    Column("n_params", "params", lambda r: _params(r["n_params"]) if r["n_params"] else (r["size_label"] or "?")),
    Column("organization", show=lambda r: (r["organization"] or "")[:28]),
    Column("base_model", "base model", lambda r: r["base_model"] or ""),
    Column("open_weights", "open", lambda r: {True: "yes", False: "no", None: "?"}[r["open_weights"]]),
)


def _models_table(models: Sequence[Model], fmt: str = "table") -> str:
    return render([_model_summary(m) for m in models], _MODEL_COLUMNS, fmt)


def _cmd_search(args: argparse.Namespace, cat: Catalog) -> int:
    fmt = chosen_format(args)
    models = cat.search(args.text)
    tools = cat.search_tools(args.text)
    if fmt != "table":
        sections = [
            ("models", [_model_summary(m) for m in models], _MODEL_COLUMNS),
            ("tools", [_tool_row(t) for t in tools], _TOOL_COLUMNS),
        ]
        print(render_sections(sections, fmt))
        return 0 if models or tools else 1
    if models:
        print(_models_table(models))
    if tools:
        print()
        print(table(["tool", "name", "category", "url"], [[t.id, t.name, t.category, t.url] for t in tools]))
    if not models and not tools:
        close = _close_names(args.text, cat)
        print(f"nothing matches {args.text!r}" + (f". Did you mean: {', '.join(close)}?" if close else ""))
        return 1
    return 0


def _close_names(text: str, cat: Catalog) -> tuple[str, ...]:
    """The model names get_model would suggest for ``text`` (registry/names.py's suggester)."""
    try:
        return (cat.get_model(text).id,)  # a name search's word matching missed, e.g. a hub path
    except UnknownModelError as exc:
        return exc.suggestions
    except LLMCatalogError:
        return ()


def _cmd_show(args: argparse.Namespace, cat: Catalog) -> int:
    errors: list[LLMCatalogError] = []
    for getter in (lambda name: resolve_model(name, cat), cat.get_gpu, cat.get_tool):
        try:
            entry = getter(args.name)
        except LLMCatalogError as exc:
            errors.append(exc)
            continue
        fmt = chosen_format(args)
        pairs = _describe(entry, cat)
        if fmt == "table":
            # Only prose (descriptions, notes) keeps its line breaks: a newline in a name or an organisation
            # could forge a line of this output, so it is shown escaped.
            print("\n".join(f"{label:<15} {_clean(value, lines=multiline)}" for label, value, multiline in pairs))
        elif fmt == "json":
            kind = "model" if isinstance(entry, Model) else "gpu" if isinstance(entry, GPU) else "tool"
            print(to_json({"kind": kind, **attrs.asdict(entry)}))
        else:
            rows = [{"field": label, "value": str(value)} for label, value, _ in pairs]
            print(render(rows, (Column("field"), Column("value")), fmt))
        return 0
    # The most telling failure: a name several GPUs share, else a family of models, else the model error.
    raise next((e for e in errors if isinstance(e, (AmbiguousGPUError, FamilyNameError))), errors[0])


def _describe(entry: Model | GPU | Tool, cat: Catalog) -> list[tuple[str, object, bool]]:
    """(label, value, multi-line prose?) for every fact of ``entry`` that is known."""
    lines: list[tuple[str, object, bool]] = []

    def add(label: str, value: object, *, multiline: bool = False) -> None:
        if value not in (None, "", (), []):
            lines.append((label, value, multiline))

    add("id", entry.id)
    add("name", entry.name)
    add("aliases", ", ".join(entry.aliases))
    if isinstance(entry, Model):
        add("domain", entry.domain + (f" ({', '.join(entry.subdomains)})" if entry.subdomains else ""))
        add("organization", entry.organization)
        add("modality", entry.modality)
        add("variant", entry.variant)
        add("released", entry.release_date)
        add("licence", entry.license)
        add("open weights", {True: "yes", False: "no (API only)", None: "unknown"}[entry.open_weights])
        add("languages", ", ".join(entry.languages))
        add("parameters", f"{entry.n_params:,}" if entry.n_params else entry.size_label)
        chain = cat.ancestors(entry)
        add("built on", " <- ".join([entry.id, *(m.id for m in chain)]) if chain else entry.base_model)
        kids = cat.descendants(entry, recursive=False)
        add("built upon by", ", ".join(m.id for m in kids))
        a = entry.architecture
        if a is not None:
            src = f" (inherited from {entry.architecture_from})" if entry.architecture_from else ""
            add(
                "architecture",
                f"{a.family}: {a.n_layers} layers, hidden {a.hidden_size}, "
                f"{a.n_heads} heads ({a.n_kv_heads} KV, head dim {a.head_dim}), FFN {a.ffn_size}, "
                f"vocab {a.vocab_size}, context {a.max_context}"
                + (f", MoE {a.n_experts}x{a.expert_ffn_size} top-{a.n_experts_per_token}" if a.is_moe else "")
                + src,
            )
            if a.is_moe:
                pb = param_breakdown(a)
                add(
                    "active/token",
                    f"{_params(pb.active)} of the language model's {_params(pb.total)} with its embedding tables "
                    f"(as Mixtral's 12.9B is counted); {_params(pb.active - pb.embedding)} without the input "
                    "embedding (as gpt-oss's 3.6B is counted)",
                )
        for c in entry.components:
            add(f"  {c.role}", c.name + (f" ({_params(c.n_params)})" if c.n_params else ""))
        add("description", entry.description, multiline=True)
        add("说明", entry.description_zh, multiline=True)
        for key in ("code", "hub", "paper", "homepage"):
            add(key, getattr(entry.links, key))
        for f in entry.figures:
            value = f"{f.memory_value:g} {f.memory_unit}" if f.memory_value is not None else f.metric
            setting = ", ".join(
                x
                for x in (
                    f.workload,
                    f.precision,
                    f"b={f.batch_size}" if f.batch_size else "",
                    f"s={f.seq_len}" if f.seq_len else "",
                    f"{f.n_gpus}x {f.gpu or 'GPU'}",
                )
                if x
            )
            claim = f"  (a claim by {f.claimed_by}, not a measurement)" if f.claimed_by else ""
            add("figure", f"{value}  [{setting}]{claim}  {f.source}")
        add("notes", entry.notes, multiline=True)
    elif isinstance(entry, GPU):
        add("vendor", entry.vendor)
        add("memory", f"{entry.memory_gib:g} GiB {entry.memory_type or ''}".rstrip())
        if entry.usable_memory_bytes:
            add("usable", f"{entry.usable_memory_bytes / 2**20:.0f} MiB (driver-reported)")
        if entry.allocatable_memory_bytes:
            how = "reported to a process by CUDA"
        elif entry.gpu_memory_fraction is not None:
            how = "the GPU's default share of unified memory"
        else:
            how = f"assumed: {ALLOCATABLE_FALLBACK_FRACTION:.0%} of its total"
        add("allocatable", f"{entry.available_bytes / 2**30:.2f} GiB ({how})")
        add("bandwidth", f"{entry.bandwidth_gb_s:g} GB/s" if entry.bandwidth_gb_s else None)
        for label, attr in (
            ("FP64", "fp64_tflops"),
            ("FP32", "fp32_tflops"),
            ("FP16 tensor", "fp16_tflops"),
            ("BF16 tensor", "bf16_tflops"),
            ("FP8 tensor", "fp8_tflops"),
        ):
            v = getattr(entry, attr)
            add(label, f"{v:g} TFLOPS" if v else None)
        add("INT8 tensor", f"{entry.int8_tops:g} TOPS" if entry.int8_tops else None)
        add("interconnect", entry.interconnect)
        add("form factor", entry.form_factor)
        add("architecture", entry.architecture)
        add("CUDA capability", entry.compute_capability)
        # every real weight format (the ones planning may recommend), as supports() rules on this card
        from ..planning.remedies import REAL_FORMATS

        runs = [f for f in REAL_FORMATS if supports(entry, f)]
        add("runs", f"{', '.join(runs)} (transformers; values.compat.supports)")
        add("notes", entry.notes, multiline=True)
    else:
        add("category", entry.category)
        add("url", entry.url)
        add("description", entry.description, multiline=True)
        add("说明", entry.description_zh, multiline=True)
        add("organization", entry.organization)
        add("licence", entry.license)
    for i, source in enumerate(entry.sources):
        add("sources" if i == 0 else "", source)
    return lines


def _cmd_lineage(args: argparse.Namespace, cat: Catalog) -> int:
    m = cat.get_model(args.name)
    up = cat.ancestors(m)
    down = cat.descendants(m)
    fmt = chosen_format(args)
    if fmt == "json":
        print(
            to_json({"model": m.id, "built_on": [a.id for a in up], "built_upon_by": [_model_summary(d) for d in down]})
        )
        return 0
    if fmt != "table":
        rows = [{"relation": "built on", **_model_summary(a)} for a in up]
        rows += [{"relation": "built upon by", **_model_summary(d)} for d in down]
        print(render(rows, (Column("relation"), *_MODEL_COLUMNS), fmt))
        return 0
    print(
        "built on:      "
        + (" <- ".join([m.id, *(a.id for a in up)]) if up else f"{m.id} (no base model in the catalog)")
    )
    print(f"built upon by: {len(down)} model(s)")
    if down:
        print(_models_table(down))
    return 0


def _finetune_workload(args: argparse.Namespace, par: Parallelism) -> FineTune:
    """The fine-tuning workload of ``estimate``: options left out keep FineTune's defaults, or the
    ``--framework`` profile's (``FineTune.for_framework``), so a given option always wins."""
    given: dict[str, object] = {
        "method": args.finetune,
        "precision": args.compute,
        "mixed_precision": args.mixed if {"--mixed", "--no-mixed"} & set(getattr(args, "given", ())) else None,
        "optimizer": args.optimizer,
        "optimizer_impl": args.optimizer_impl,
        "gradient_checkpointing": args.gradient_checkpointing,
        "attention": args.attention if "--attention" in getattr(args, "given", ()) else None,
        "lora_rank": args.lora_rank,
        "lora_alpha": args.lora_alpha,
        "lora_targets": args.lora_targets,
        "base_format": args.base_format,
        "qlora_format": args.qlora_format,
        "modules_to_save": args.modules_to_save,
        "loop": args.loop,
        "loss": args.loss,
        "autocast": args.autocast,
        "dora": args.dora or None,
        "train_embeddings": args.train_embeddings or None,
    }
    settings = {k: v for k, v in given.items() if v is not None}
    settings.update(
        batch_size=args.batch,
        seq_len=args.seq_len,
        prefix_tokens=args.prefix_tokens,
        trainable_layers=args.trainable_layers,
        parallelism=par,
    )
    if args.moe_layout is not None:  # left out: the profile's layout, else FineTune's (transformers-5)
        settings["moe_layout"] = args.moe_layout
    if args.framework:
        return FineTune.for_framework(args.framework, args.framework_version, **settings)
    if args.framework_version:
        raise WorkloadError("--framework-version needs --framework")
    return FineTune(**settings)  # type: ignore[arg-type]


def _workload(args: argparse.Namespace) -> Inference | FineTune:
    par = Parallelism(
        data_parallel=args.dp,
        tensor_parallel=args.tp,
        pipeline_parallel=args.pp,
        zero_stage=args.zero,
        fsdp=args.fsdp,
        offload_optimizer=args.offload_optimizer,
        offload_params=args.offload_params,
    )
    if getattr(args, "deepspeed_config", None):
        par = _deepspeed_parallelism(args)
    if args.finetune:
        return _finetune_workload(args, par)
    return Inference(
        framework=_inference_framework(args),
        precision=args.precision,
        batch_size=args.batch,
        context_tokens=args.context,
        prompt_tokens=args.prompt,
        kv_cache_precision=args.kv_precision,
        mla_cache=args.mla_cache,
        compute_dtype=args.compute,
        attention=args.attention,
        parallelism=par,
    )


def _deepspeed_parallelism(args: argparse.Namespace) -> Parallelism:
    """``--deepspeed-config PATH|PRESET`` (stream "zero"): the user's DeepSpeed config, or a shipped preset
    (``llmcatalog.DEEPSPEED_PRESETS``), with ``--dp/--tp/--pp``; ``--zero``/``--offload-*`` come from the config."""
    from ..values.deepspeed import DEEPSPEED_PRESETS

    if args.zero or args.fsdp != "none" or args.offload_optimizer or args.offload_params:
        raise WorkloadError(
            "--deepspeed-config sets the ZeRO stage and offload itself; leave out --zero, --fsdp and --offload-*"
        )
    source = DEEPSPEED_PRESETS.get(args.deepspeed_config, args.deepspeed_config)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DeepSpeedWorkloadWarning)
        par = Parallelism.from_deepspeed_config(
            source, data_parallel=args.dp, tensor_parallel=args.tp, pipeline_parallel=args.pp
        )
    for w in caught:  # the config's workload settings, worded with this command's flags
        if isinstance(w.message, DeepSpeedWorkloadWarning):
            warnings.warn_explicit(w.message.text(_DS_FLAGS), UserWarning, w.filename, w.lineno)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return par


#: FineTune fields a DeepSpeed config sets -> the `estimate` options that set them.
_DS_FLAGS = {"precision": "--compute", "batch_size": "--batch", "optimizer": "--optimizer"}


#: Options of `estimate` that only mean something for one kind of workload.
_TRAINING_ONLY = (
    "--seq-len", "--mixed", "--no-mixed", "--optimizer", "--optimizer-impl", "--gradient-checkpointing",
    "--lora-rank", "--lora-alpha", "--lora-targets", "--prefix-tokens", "--trainable-layers",
    "--train-embeddings", "--moe-layout", "--dp", "--zero", "--fsdp", "--offload-optimizer", "--offload-params",
    "--deepspeed-config",
    "--framework-version", "--dora", "--base-format", "--qlora-format", "--modules-to-save", "--loop", "--loss",
    "--autocast", "--no-autocast",
)  # fmt: skip
#: Fine-tuning options that one family of methods reads (the others would ignore them).
_METHOD_ONLY = {
    ("lora", "qlora"): ("--lora-rank", "--lora-alpha", "--lora-targets", "--moe-layout", "--dora"),
    ("p-tuning-v2", "prefix-tuning"): ("--prefix-tokens",),
    ("freeze",): ("--trainable-layers",),
    ("qlora",): ("--qlora-format",),
}
_INFERENCE_ONLY = ("--precision", "--kv-precision", "--mla-cache", "--context", "--prompt")


def _add_peft_options(es: argparse.ArgumentParser) -> None:
    """The PEFT and framework options of ``estimate`` (issue 10)."""
    es.add_argument(
        "--framework",
        metavar="NAME",
        help="with --finetune, start from what this tool does by default (FineTune.for_framework; one of "
        f"{', '.join(sorted(FRAMEWORKS))}, or an alias such as 'HF Trainer'; case, '-', '_' and spaces "
        "ignored); given options win. Without --finetune: inference with that framework's own code "
        f"({', '.join(INFERENCE_FRAMEWORKS)})",
    )
    es.add_argument(
        "--framework-version",
        help="the release whose defaults to use, e.g. 4.57 or 0.22 (the newest profile at or before it; "
        "default: the newest profile)",
    )
    es.add_argument("--dora", action="store_true", help="DoRA (PEFT use_dora) instead of plain LoRA")
    es.add_argument("--base-format", choices=BASE_FORMATS, help="frozen base format of a PEFT method (e.g. bnb-int8)")
    es.add_argument(
        "--qlora-format",
        choices=BASE_FORMATS,
        help="the quantized base of --finetune qlora (default: bnb-nf4-dq, NF4 with double quantization)",
    )
    es.add_argument("--modules-to-save", help="comma-separated trainable full copies: embed_tokens, lm_head")
    es.add_argument("--loop", choices=LOOPS, help="trainer (default) or plain (keeps the step's outputs alive)")
    es.add_argument("--loss", choices=LOSS_IMPLS, help="how the loss is computed (default: full-logits)")
    es.add_argument(
        "--autocast",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run under torch.autocast (default: with --mixed); --no-autocast with fp32 PEFT adapters",
    )


def _inference_framework(args: argparse.Namespace) -> str | None:
    """``--framework`` without ``--finetune``: inference with that framework's own code where the calculus
    has one (``Inference.framework``: litgpt, transformers); a fine-tuning preset needs ``--finetune``."""
    if args.framework is None or args.finetune:
        return None
    name = framework_name(args.framework)  # WorkloadError naming the choices
    if name not in INFERENCE_FRAMEWORKS:
        raise WorkloadError(
            f"--framework {name} is a fine-tuning preset: add --finetune METHOD ({', '.join(METHODS)}); "
            f"for inference, leave --framework out or use one of {', '.join(INFERENCE_FRAMEWORKS)}"
        )
    return name


def _check_applicable(args: argparse.Namespace) -> None:
    """Refuse options the chosen workload would silently ignore (they would change nothing)."""
    given = set(getattr(args, "given", ()))
    _inference_framework(args)  # --framework alone: inference, or a clear error for a fine-tuning preset
    if args.finetune:
        stray = [o for o in _INFERENCE_ONLY if o in given]
        if stray:
            instead = [
                *(["a fine-tune's length is --seq-len"] if {"--context", "--prompt"} & set(stray) else []),
                *(["its weights' format is --base-format or --finetune qlora"] if "--precision" in stray else []),
                *(["its dtype is --compute"] if {"--precision", "--kv-precision"} & set(stray) else []),
            ]
            raise WorkloadError(
                f"{', '.join(stray)} {'applies' if len(stray) == 1 else 'apply'} to inference only"
                + (f" ({'; '.join(instead)})" if instead else "")
                + ": drop them, or drop --finetune"
            )
        for methods, options in _METHOD_ONLY.items():
            stray = [o for o in options if o in given]
            if stray and args.finetune and args.finetune not in methods:
                raise WorkloadError(
                    f"{', '.join(stray)} {'applies' if len(stray) == 1 else 'apply'} to --finetune "
                    f"{' or '.join(methods)} only, not {args.finetune}"
                )
    else:
        stray = [o for o in _TRAINING_ONLY if o in given]
        if stray:
            raise WorkloadError(
                f"{', '.join(stray)} {'applies' if len(stray) == 1 else 'apply'} to fine-tuning only:"
                " add --finetune METHOD "
                f"({', '.join(METHODS)}), or drop them"
            )


def _ollama_tag_defaults(args: argparse.Namespace) -> None:
    """An Ollama tag ("qwen2.5:7b-instruct-q8_0") without --engine asks what Ollama runs: --engine ollama,
    with the tag's GGUF quantization as --quant; said on stderr (--engine transformers for the checkpoint)."""
    if "--engine" in args.given or not is_ollama_tag(args.model) or Path(args.model).exists():
        return
    args.engine = "ollama"
    quant = ollama_tag_quant(args.model)
    if quant is not None and getattr(args, "quant", None) is None:
        args.quant = quant
    print(
        f"llmcatalog: note: {args.model!r} is an Ollama tag: estimating what Ollama runs (--engine ollama,"
        f" {args.quant or 'Q4_K_M, its default'}); --engine transformers estimates the checkpoint instead",
        file=sys.stderr,
    )


def _cmd_estimate(args: argparse.Namespace, cat: Catalog) -> int:
    _refuse_empty_gpu(args)
    _ollama_tag_defaults(args)
    if args.gpu_memory is not None and getattr(args, "engine", "transformers") != "transformers":
        raise WorkloadError("--gpu-memory applies to the transformers estimate; with --engine name a catalog --gpu")
    if getattr(args, "engine", "transformers") in _engines_llamacpp.ENGINES:  # engines stream: llama.cpp/Ollama
        _engines_llamacpp.check_workload_options(args)  # --finetune refused; --batch, --tp, --pp explained
        _check_applicable(args)  # training-only options refused
        return _engines_llamacpp.run(args, cat)
    _engines_llamacpp.refuse_options(args)
    _check_applicable(args)
    if engine_requested(args):  # --engine vllm/sglang/...: cli/engines.py
        return run_engine_estimate(args, cat, _workload(args), clean=_clean, table=table)
    model = resolve_model(args.model, cat)  # a catalog name, Hub id, model folder, config.json or .gguf
    gpu = _target_gpu(args, cat) if args.gpu is not None or args.gpu_memory is not None else None
    workload = _workload(args)
    if _gguf_repo(model):
        print(
            f"llmcatalog: note: {_clean(model.name)} is a GGUF repository (llama.cpp/Ollama files, one per quant):"
            " the figures below are for the transformers checkpoint of its base model; for the GGUF files run"
            " with --engine llama.cpp --quant Q4_K_M (or the quant you download)",
            file=sys.stderr,
        )
    with warnings.catch_warnings(record=True) as caught:
        # A context past the model's limit is worth a word, not a refusal: say it on stderr.
        warnings.simplefilter("always", ContextLengthWarning)
        est = _estimate.estimate_vram(model, workload)
    for w in caught:
        if issubclass(w.category, ContextLengthWarning):
            print(f"llmcatalog: warning: {w.message}", file=sys.stderr)
        else:  # pragma: no cover - nothing else warns here today; pass it on unchanged
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    for why in _estimate.incompatibilities(model, gpu, workload, defaults=True) if gpu is not None else ():
        print(f"llmcatalog: warning: {_clean(why)}", file=sys.stderr)  # the figure below is still given
    est = _as_run_estimate(model, gpu, workload, est)
    verdict = None if gpu is None else fit_check(est.total_bytes, gpu, n_gpus=est.n_gpus)
    fits = verdict is not None and verdict.fits
    runs = verdict is not None and verdict.verdict != "does not fit"  # tight can run: speed given, exit 0

    def fewest() -> int | None:
        assert gpu is not None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ContextLengthWarning)  # already said above
            warnings.simplefilter("ignore", NoFitWarning)  # _fewest_text says why in the CLI's words
            return _estimate.min_gpus(model, gpu, workload)

    fmt = chosen_format(args)
    if fmt != "table":
        print(_estimate_output(fmt, model, gpu, workload, est, verdict, fewest() if gpu is not None else None))
        return 0 if gpu is None or runs else 1
    kind = f"fine-tune ({workload.method})" if isinstance(workload, FineTune) else "inference"
    print(
        _clean(f"{model.name} ({model.id}), {kind}, {_params(est.n_params)} parameters")
        + (f", {_params(est.trainable_params)} trainable" if est.trainable_params else "")
    )
    rows = [
        [name, _gib(value), f"{value / max(est.total_bytes, 1):.0%}"] for name, value in est.components.items() if value
    ]
    rows.append(["total", _gib(est.total_bytes), "100%"])
    print(table(["component", "GiB", "share"], rows, right=(1, 2)))
    print(f"peak at: {est.peak_phase}; per GPU, {est.n_gpus} GPU(s)")
    for a in est.assumptions:
        print(f"  - {_clean(_runtime_words(a, gpu))}")
    if gpu is None:
        return 0
    assert verdict is not None
    said = {"fits": "fits", "tight": "tight", "does not fit": "does NOT fit"}[verdict.verdict]
    print(
        f"\n{_clean(gpu.name)}: {_gib(gpu.available_bytes)} GiB allocatable{_fallback_note(gpu)} -> {said}"
        f" ({share(est.total_bytes, gpu.available_bytes)} of it; {_gib(verdict.headroom_bytes)} GiB headroom kept free)"
    )
    reading = _gpu_reading(args.gpu, gpu, cat) if args.gpu else ""  # --gpu-memory: no name to read
    if reading:
        print(reading)
    if verdict.verdict == "tight":
        print("   tight: within the GPU's memory but inside the headroom kept for fragmentation; it may fail")
    print(_speed_line(model, gpu, workload, fits=runs) + (" (tight: if it starts)" if runs and not fits else ""))
    overlap = _overlap_comm_note(model, gpu, workload, verdict.verdict)
    if overlap:
        print(f"   {overlap}")
    if not fits:
        keep, change = _cheapest_remedies(model, gpu, workload)
        if keep is not None:
            print(f"   cheapest remedy that fits on {workload.parallelism.n_gpus} such GPU(s): {keep}")
        if keep is None and change is not None:
            print(f"   no remedy that keeps the method fits on {workload.parallelism.n_gpus} such GPU(s)")
        if change is not None:
            print(f"   cheapest {change}")
        print(f"   {_fewest_text(gpu, workload, fewest())}")
        for hint in _remedies(workload, est, model, gpu):
            print(f"   try {hint}")
    return 0 if runs else 1


def _overlap_comm_note(model: Model, gpu: GPU, workload: Inference | FineTune, verdict: str) -> str:
    """At ZeRO-2 with ``overlap_comm`` left unset (DeepSpeed's default: off), the verdict with it on,
    when that differs: many shipped configs turn it on (the Hugging Face DeepSpeed docs' ZeRO-2
    example), and it keeps a second set of reduce buckets (docs/sharding.md). "" otherwise."""
    p = workload.parallelism
    if not isinstance(workload, FineTune) or p.zero_stage != 2 or p.overlap_comm is not None:
        return ""
    on = attrs.evolve(workload, parallelism=attrs.evolve(p, overlap_comm=True))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        other = check(model, gpu, on)
    if other.verdict == verdict:
        return ""
    said = {"fits": "fits", "tight": "is tight", "does not fit": "does NOT fit"}[other.verdict]
    return (
        f"with overlap_comm on (DeepSpeed's default is off at ZeRO-2; many shipped configs turn it on) it needs"
        f" {_gib(other.required_bytes)} GiB and {said}: give --deepspeed-config with your config to be sure"
    )


def _gguf_repo(model: Model) -> bool:
    """Whether ``model`` is a Hub GGUF repository (``...-GGUF``, registry/resolve.py): files for llama.cpp,
    which the transformers estimate does not run (docs/cli.md: a note points to ``--engine llama.cpp``)."""
    hub = model.links.hub if model.links is not None else None
    return any(str(text).lower().rstrip("/").endswith("-gguf") for text in (model.name, hub or ""))


def _as_run_estimate(
    model: Model, gpu: GPU | None, workload: Inference | FineTune, est: _estimate.MemoryEstimate
) -> _estimate.MemoryEstimate:
    """``est``, or the estimate of what the runtime actually holds on ``gpu`` (FP8 dequantized to bf16
    below compute capability 8.9: :func:`llmcatalog.memory.estimate.as_run`), said on stderr and in the
    assumptions, so that the verdict counts what runs, as ``llmcatalog.check`` does."""
    if gpu is None:
        return est
    running, note = _estimate.as_run(model, gpu, workload)
    if not note:
        return est
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ContextLengthWarning)  # already said
        real = _estimate.estimate_vram(model, running)
    print(
        f"llmcatalog: warning: {_clean(note)} (weights {_gib(real.weights_bytes)} GiB, not"
        f" {_gib(est.weights_bytes)} GiB; in all {_gib(real.total_bytes)} GiB, not {_gib(est.total_bytes)} GiB)",
        file=sys.stderr,
    )
    return _estimate.with_run_note(real, note)


def _estimate_output(
    fmt: str,
    model: Model,
    gpu: GPU | None,
    workload: Inference | FineTune,
    est: _estimate.MemoryEstimate,
    check: FitCheck | None,
    fewest: int | None,
) -> str:
    """An estimate as JSON (every figure), CSV (one row: parts, components, verdict) or markdown."""
    verdict: dict[str, Any] = {}
    if gpu is not None and check is not None:
        verdict = {
            "gpu": gpu.id,
            "gpu_available_bytes": gpu.available_bytes,
            "verdict": check.verdict,
            "headroom_bytes": check.headroom_bytes,
            "fits": check.fits,
            "min_gpus": fewest,
        }
    speed, speed_text = _speed(model, gpu, workload, fits=check is None or check.verdict != "does not fit")
    if fmt == "json":
        return to_json({**est.as_dict(), "model": model.id, **verdict, **speed})
    if fmt == "csv":
        row: dict[str, Any] = {
            "model": model.id,
            "workload": workload_label(workload),
            **{f"{part}_bytes": value for part, value in est.parts},
            "total_bytes": est.total_bytes,
            "n_gpus": est.n_gpus,
            "peak_phase": est.peak_phase,
            **verdict,
            **speed,
            **{f"components.{k}": v for k, v in est.components.items()},
        }
        return render([row], [Column(k) for k in row], "csv")
    kind = f"fine-tune ({workload.method})" if isinstance(workload, FineTune) else "inference"
    lines = [
        f"**{model.name}** ({model.id}), {kind}, {_params(est.n_params)} parameters"
        + (f", {_params(est.trainable_params)} trainable" if est.trainable_params else ""),
        "",
        est.to_markdown(gpu),
        "",
        f"Peak at: {est.peak_phase}; per GPU, {est.n_gpus} GPU(s).",
        "",
        *(f"- {_runtime_words(a, gpu)}" for a in est.assumptions),
    ]
    if gpu is not None:
        lines += ["", speed_text[0].upper() + speed_text[1:] + "."]
    if gpu is not None and not verdict["fits"]:
        text = _fewest_text(gpu, workload, fewest)
        lines += ["", text[0].upper() + text[1:] + "."]
    return clean("\n".join(lines), lines=True)


def _speed(
    model: Model, gpu: GPU | None, workload: Inference | FineTune, *, fits: bool = True
) -> tuple[dict[str, Any], str]:
    """The speed figures of the text line (:func:`_speed_line`) as fields, and their wording.

    Inference: ``decode_tokens_per_s`` at the full context and ``time_to_first_token_s`` with the
    transformers profile; fine-tuning: ``training_tokens_per_s`` and ``step_s`` at the default MFU.
    Each is None when there is no GPU, the GPU lacks the figure the estimate needs, or the job does not
    fit (``fits=False``: a speed of a run that cannot start would mislead); the wording says why.
    """
    from ..performance.inference import decode_speed, prefill_speed
    from ..performance.training import DEFAULT_MFU, training_time

    if isinstance(workload, FineTune):
        fields: dict[str, Any] = {"training_tokens_per_s": None, "step_s": None}
    else:
        fields = {"decode_tokens_per_s": None, "time_to_first_token_s": None}
    if gpu is None:
        return fields, "speed: not estimated (no GPU given)"
    if not fits:
        return fields, "speed: not estimated (the job does not fit on this GPU)"
    try:
        if isinstance(workload, FineTune):
            step = workload.batch_size * workload.seq_len * workload.parallelism.data_parallel
            t = training_time(model, gpu, workload, tokens=step)
            fields = {"training_tokens_per_s": step / t.step_s, "step_s": t.step_s}
            offload = next((a for a in t.assumptions if a.startswith("offload of")), None)
            return fields, (
                f"speed (estimated at {DEFAULT_MFU:.0%} MFU{'; with offload, at most' if offload else ''}):"
                f" {step / t.step_s:,.0f} training tokens/s, {t.step_s:.3g} s per step of {step:,} tokens"
                + (f"\n   {offload}" if offload else "")
            )
        dec = decode_speed(model, gpu, workload)
    except MissingGPUFigureError as exc:
        return fields, f"speed: not estimated ({_missing_figure(gpu, exc)})"
    except LLMCatalogError as exc:
        return fields, f"speed: not estimated ({_clean(str(exc))})"
    fields["decode_tokens_per_s"] = dec.tokens_per_s
    line = f"speed (transformers, estimated): {dec.tokens_per_s:,.1f} tokens/s decode"
    line += f" at {dec.context_tokens:,} tokens"
    roof_re = r"compute roof.*?has no (\w+)(?:; using its (\w+))?"  # performance.hardware.decode_peak_flops
    roof = next((m for a in dec.assumptions if (m := re.match(roof_re, a))), None)
    bound = f"{dec.bound} bound"
    if dec.bound == "host":  # stream eng: say what the host time is, and that the GPU does not set it
        bound += ": Python/kernel-launch overhead, GPU-independent"
    if roof is None:
        line += f" ({bound}"
    elif roof.group(2):
        line += f" ({bound}; {roof.group(2)} used for the missing {roof.group(1)}"
    else:
        line += f" ({bound}; no {roof.group(1)}: compute left out, so an upper bound"
    caveat = _speed_caveat(model, gpu, workload, dec)  # stream eng: host bound / MoE loop uncertainty
    line += f"; {caveat})" if caveat else ")"
    try:
        pre = prefill_speed(model, gpu, workload)
    except MissingGPUFigureError as exc:  # compute bound: needs the figure decode could do without
        return fields, f"{line}; time to first token not estimated ({_missing_figure(gpu, exc)})"
    except LLMCatalogError as exc:
        return fields, f"{line}; time to first token not estimated ({_clean(str(exc))})"
    fields["time_to_first_token_s"] = pre.ttft_s
    return fields, f"{line}, time to first token {pre.ttft_s:.3g} s for {pre.prompt_tokens:,} prompt tokens"


def _speed_caveat(model: Model, gpu: GPU, workload: Inference, dec: Any) -> str:
    """The uncertainty of a transformers decode figure the GPU does not set (stream eng): host bound
    (Python and kernel launches per layer: the transformers version and CPU decide), or a
    mixture-of-experts model (transformers 4.x loops over every expert in Python, 5.x over the
    routed ones): the span of :func:`~llmcatalog.performance.inference.decode_speed_span`; "" otherwise."""
    from ..performance.inference import decode_speed_span

    arch = model.architecture
    n_experts = arch.n_experts if arch is not None else 0
    if dec.bound != "host" and not n_experts:
        return ""
    slow, fast = decode_speed_span(model, gpu, workload)
    span = f"{min(slow, fast):,.1f}-{max(slow, fast):,.1f} tokens/s across transformers versions"
    if not n_experts and max(slow, fast) < 1.05 * min(slow, fast):
        return ""  # the faster host only reaches the memory roof: no spread worth a word
    if n_experts:
        return (
            f"MoE: transformers 4.x runs all {n_experts} experts of each layer in a Python loop, "
            f"5.x only the routed ones: {span}"
        )
    return span


def _missing_figure(gpu: GPU, exc: MissingGPUFigureError) -> str:
    """A missing datasheet figure in command-line terms: a card without bf16 (T4, V100) runs in fp16, so
    ``--compute fp16`` is the fix (the Python API's ``attrs.evolve(gpu, ...)`` advice is not one here)."""
    name = _clean(gpu.name)
    if exc.field == "bf16_tflops" and gpu.fp16_tflops:
        return f"no bf16_tflops: the {name} has no bf16 tensor cores; run in fp16 with --compute fp16"
    return f"no {exc.field} for the {name} in the catalog"


def _speed_line(model: Model, gpu: GPU, workload: Inference | FineTune, *, fits: bool = True) -> str:
    """One line from llmcatalog.performance: decode tokens/s and time to first token with transformers
    (inference), or training tokens/s and step time at the default MFU (fine-tuning)."""
    return "   " + _speed(model, gpu, workload, fits=fits)[1]


def _fewest_text(gpu: GPU, workload: Inference | FineTune, n: int | None) -> str:
    """What :func:`min_gpus` found, worded for the user's run (``n``: its answer, None past 1024 GPUs).

    More data-parallel GPUs only help a fine-tune whose state is sharded (ZeRO/FSDP): without it every
    rank holds the whole job, so "not even 1024 GPUs" would mislead. Fewer GPUs than the user's own
    run can fit where theirs do not: each extra rank adds NCCL communicator buffers, a single GPU none.
    """
    name = _clean(gpu.name)
    given = workload.parallelism.n_gpus
    if n is None and single_device(gpu):
        return f"a machine has one {name}: the job cannot be split over several (see the remedies below)"
    if n is None:
        if isinstance(workload, FineTune) and workload.parallelism.shard_stage == 0:
            return (
                "more data-parallel GPUs cannot help: without --zero or --fsdp each GPU holds a whole copy of the "
                "job (see the remedies below)"
            )
        return "not even 1024 of these GPUs fit this workload as configured"
    if n < given:
        why = "a single GPU needs no NCCL communication buffers" if n == 1 else "fewer ranks need smaller NCCL buffers"
        return f"{n} {name} would fit where your {given} do not: {why}"
    how = "pipeline stages" if isinstance(workload, Inference) else "data-parallel GPUs"
    return f"fewest {name} that fit: {n} ({how})"


def _remedies(
    workload: Inference | FineTune, est: _estimate.MemoryEstimate, model: Model | None = None, gpu: GPU | None = None
) -> list[str]:
    """Settings of the user's own workload that would cut the per-GPU memory, largest part first.

    A short, honest list (what is not used yet and what it acts on), not a search: more GPUs cannot
    shrink activations, so a fine-tune dominated by them is pointed at checkpointing first. Only
    applicable hints: no 4-bit format for weights stored in 4 bits already, no shorter context when the
    rest of the estimate alone is above the GPU's fit limit (its memory less the headroom).
    """
    out: list[tuple[int, str]] = []
    gib = 2**30
    limit = None if gpu is None else gpu.available_bytes - fit_check(0, gpu).headroom_bytes

    def leads(changed: Inference | FineTune, what: str = "") -> str:
        """The memory per GPU the hint leads to and its verdict, as the remedies say it ("" if unknown)."""
        if model is None or gpu is None:
            return ""
        try:
            new = _quiet(lambda: _estimate.estimate_vram(model, changed))
        except LLMCatalogError:
            return ""
        verdict = fit_check(new.total_bytes, gpu, n_gpus=new.n_gpus).verdict
        return f"; {what}{_gib(new.total_bytes)} GiB per GPU: {verdict}"

    if isinstance(workload, FineTune):
        p = workload.parallelism
        if not workload.checkpointing and est.activations_bytes:
            after = leads(attrs.evolve(workload, gradient_checkpointing=True))
            out.append(
                (
                    est.activations_bytes,
                    f"--gradient-checkpointing (activations: {est.activations_bytes / gib:.1f} GiB{after})",
                )
            )
        states = est.optimizer_bytes + est.gradients_bytes + est.components.get("weights.trainable", 0)
        if p.shard_stage < 3 and states >= est.total_bytes // 20:  # sharding under 5% of the total cannot help
            dp = p.data_parallel if p.data_parallel > 1 else 8  # an example size when the user has one GPU
            sharded = attrs.evolve(workload, parallelism=attrs.evolve(p, data_parallel=dp, zero_stage=3, fsdp="none"))
            after = leads(sharded, f"with --dp {dp}: ") if p.fsdp == "none" else ""
            out.append(
                (
                    states,
                    f"--zero 3 with --dp N (shards {states / gib:.1f} GiB of parameters, gradients and states{after})",
                )
            )
        if workload.method == "full":
            after = leads(attrs.evolve(workload, method="lora"), "LoRA: ")
            out.append(
                (states, f"--finetune lora or qlora (changes the method: trains a small adapter instead{after})")
            )
    else:
        kv = est.kv_cache_bytes
        if kv and (limit is None or est.total_bytes - kv <= limit):
            after = ""
            if model is not None and gpu is not None:
                with contextlib.suppress(LLMCatalogError):
                    n = _quiet(lambda: max_context(model, gpu, workload, limit=workload.context_tokens))
                    if n is not None and n < workload.context_tokens:
                        prompt = None if workload.prompt_tokens is None else min(workload.prompt_tokens, n)
                        shorter = attrs.evolve(workload, context_tokens=n, prompt_tokens=prompt)
                        after = leads(shorter, f"--context {n}: ")
            out.append((kv, f"a shorter --context or smaller --batch (KV cache: {kv / gib:.1f} GiB{after})"))
        stored = model.weight_format if model is not None else None
        fmt = stored if not workload.precision_given and stored is not None else workload.weight_format
        if fmt.linear_bits > 4.5 and est.weights_bytes:
            w = est.weights_bytes
            four = [p for p in ("awq-int4", "bnb-nf4", "gptq-int4") if gpu is None or supports(gpu, p).ok][:2]
            if four:
                after = next((a for f in four if (a := leads(attrs.evolve(workload, precision=f), f"{f}: "))), "")
                out.append(
                    (w, f"a 4-bit --precision such as {' or '.join(four)} (weights now {w / gib:.1f} GiB{after})")
                )
            else:  # e.g. Apple GPUs: no AWQ/GPTQ/bitsandbytes kernels there
                out.append(
                    (w, f"4-bit GGUF weights with --engine llama.cpp --quant Q4_K_M (weights now: {w / gib:.1f} GiB)")
                )
    out.sort(key=lambda t: -t[0])
    return [text for _, text in out]


#: Name words that make another card, not a variant of the same one (RTX 3060 Ti is not an RTX 3060).
_OTHER_CARD_WORDS = frozenset({"ti", "super", "xt", "xtx", "d", "laptop", "mobile", "maxq"})


def _gpu_reading(typed: str, gpu: GPU, cat: Catalog) -> str:
    """A line saying which variant a short GPU name was read as when other cards share the name
    ("H100" is the SXM5 module; "H100 PCIe" and "H100 NVL" exist too), else "".

    Only a data-centre module (an SXM form factor) is read as "the SXM module at its launch memory
    size"; a GeForce or workstation name lists its variants (memory sizes, form factors) without the
    cards whose name adds a model word (Ti, Super, D, ...)."""
    key = normalize(typed)
    if key in (normalize(gpu.name), normalize(gpu.id)):
        return ""
    words = [w for w in map(normalize, re.split(r"[\s_/-]+", typed)) if w]

    def variant(g: GPU) -> bool:
        if not words or not all(w in normalize(g.name) for w in words):
            return False
        extra = {normalize(t) for t in re.split(r"[\s_/()-]+", g.name) if t} - set(words)
        return not extra & _OTHER_CARD_WORDS

    others = sorted(g.id for g in cat.gpus if g.id != gpu.id and variant(g))
    name = _clean(gpu.name)
    if (gpu.form_factor or "").upper().startswith("SXM") and others:
        return (
            f"   --gpu {typed!r} read as {name} (a bare name is the SXM module at its launch memory size;"
            f" name another variant to use it: {', '.join(others)})"
        )
    if others:
        return f"   --gpu {typed!r} read as {name}; other variants in the catalog: {', '.join(others)} (name one)"
    size = re.search(r"\b\d+\s*GB\b", gpu.name)
    if size and not re.search(r"\d+\s*GB", typed, re.IGNORECASE):
        return (
            f"   --gpu {typed!r} read as {name}, the catalog's only variant of that name; a variant with other "
            "memory: give --gpu-memory SIZE"
        )
    return ""


def _runtime_words(text: str, gpu: GPU | None) -> str:
    """An assumption line in the GPU's own runtime words: "CUDA context" is a Metal (MPS) context on Apple
    GPUs, a ROCm/HIP context on AMD (values.compat.runtime_name); its size was measured on CUDA."""
    name = "CUDA context" if gpu is None else runtime_name(gpu)
    if name == "CUDA context" or "CUDA context" not in text:
        return text
    return text.replace("CUDA context", f"{name} (size as measured for a CUDA context)")


def _fallback_note(gpu: GPU) -> str:
    return "" if gpu.allocatable_known else f" (assumed: {ALLOCATABLE_FALLBACK_FRACTION:.0%} of its total)"


def _cheapest_remedies(model: Model, gpu: GPU, workload: Inference | FineTune) -> tuple[str | None, str | None]:
    """The first remedy :func:`recommend` ranks that makes the job fit keeping the user's method, and
    the first that changes it ("method change that fits on 8 such GPU(s): LoRA ..."), in words and options."""
    try:
        ranked = recommend(model, gpu, workload)
    except LLMCatalogError:  # pragma: no cover - the estimate above already ran on these inputs
        return None, None
    keep = next((r for r in ranked if r.fits and not r.changes), None)
    change = next((r for r in ranked if r.fits and r.changes), None)

    def said(r: Remedy | None) -> str | None:
        return None if r is None else f"{r.description} ({r.options}; {_gib(r.check.required_bytes)} GiB)"

    n = workload.parallelism.n_gpus
    if change is not None:
        plain = attrs.evolve(change, description=change.description.removeprefix(f"changes the {change.changes}: "))
        return said(keep), f"{change.changes} change that fits on {n} such GPU(s): {said(plain)}"
    return said(keep), None


# -- plan and fit: the inverse questions ------------------------------------------------------
#: Memory units of --gpu-memory: binary with or without "i" (``G`` = ``GiB`` = 2**30, as a bare number, and as
#: nvidia-smi and ``docker --memory`` read ``G``), decimal only when spelt ``GB``/``MB``/``TB`` (10**9 ...).
_UNITS = {
    "": 2**30, "G": 2**30, "GIB": 2**30, "GB": 10**9,
    "M": 2**20, "MIB": 2**20, "MB": 10**6,
    "T": 2**40, "TIB": 2**40, "TB": 10**12,
}  # fmt: skip


def _memory_size(text: str) -> int:
    """``12GiB``, ``12 GiB``, ``12G`` (GiB), ``12000MiB``, ``24GB`` (10**9), a bare number is GiB (``_UNITS``)."""
    if text.strip().startswith("-"):
        raise argparse.ArgumentTypeError(f"{text!r} is negative: give the memory of one GPU, e.g. 12GiB")
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*", text)
    unit = m.group(2).upper() if m else ""
    if m is None or unit not in _UNITS or float(m.group(1)) <= 0:
        raise argparse.ArgumentTypeError(
            f"not a memory size: {text!r} (e.g. 12GiB or 12G = 12*2**30 bytes, 24GB = 24*10**9, 16000MiB)"
        )
    return int(float(m.group(1)) * _UNITS[unit])


def _refuse_empty_gpu(args: argparse.Namespace) -> None:
    """An empty ``--gpu ""`` is a mistake (a shell variable left unset), never "no GPU check"."""
    if args.gpu is not None and not args.gpu.strip():
        raise WorkloadError("--gpu is empty: name a catalog GPU (e.g. --gpu 'RTX 4090'), or give --gpu-memory 12GiB")


def _target_gpu(args: argparse.Namespace, cat: Catalog) -> GPU:
    """The catalog GPU named by --gpu, or a card of --gpu-memory bytes (the fallback share applies)."""
    _refuse_empty_gpu(args)
    if args.gpu_memory is not None:
        if args.gpu:
            raise WorkloadError(
                "give either --gpu (a catalog GPU) or --gpu-memory (a card not in the catalog), not both"
            )
        n = args.gpu_memory
        if n % 10**9 == 0 and n % 2**20 != 0:  # spelt in decimal GB (or TB): say what it reads as
            gb = n // 10**9
            print(
                f"llmcatalog: note: --gpu-memory {gb} GB (decimal) is {gb}*10**9 bytes = {n / GIB:.2f} GiB;"
                f" a card sold as {gb} GB has {gb} GiB: write {gb}GiB (or {gb}G)",
                file=sys.stderr,
            )
        return GPU(id="custom-gpu", name=f"custom {n / GIB:.2f} GiB GPU", vendor="custom", memory_bytes=n)
    if not args.gpu:
        raise WorkloadError("name the GPU: --gpu NAME (e.g. --gpu 'RTX 4090'), or --gpu-memory 12GiB")
    return cat.get_gpu(args.gpu)


def _quiet(func: Callable[[], Any]) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ContextLengthWarning)
        warnings.simplefilter("ignore", UncountedPartsWarning)  # a listing marks such models' size "?"
        return func()


def plan_rows(
    model: Model, gpu: GPU, workload: Inference | FineTune, n_gpus: int
) -> tuple[FitCheck, str, list[str], list[list[object]]]:
    """The verdict (and its one-line wording), then the ranked remedies as (headers, rows) for a formatter."""
    v = _quiet(lambda: check(model, gpu, workload))
    kind = f"fine-tune ({workload.method})" if isinstance(workload, FineTune) else "inference"
    line = (
        f"{model.name} ({model.id}), {kind} on {workload.parallelism.n_gpus}x {gpu.name}: {v.verdict}, "
        f"{_gib(v.required_bytes)} of {_gib(v.available_bytes)} GiB allocatable per GPU{_fallback_note(gpu)} "
        f"({v.share:.0%}; {_gib(v.headroom_bytes)} GiB headroom)"
    )
    remedies = _quiet(lambda: recommend(model, gpu, workload, n_gpus=n_gpus))
    headers = ["#", "remedy", "options", "GiB per GPU", "saves GiB", "verdict"]
    rows: list[list[object]] = [
        [i, r.description, r.options, _gib(r.check.required_bytes), _gib(r.saved_bytes), r.check.verdict]
        for i, r in enumerate(remedies, 1)
    ]
    return v, line, headers, rows


#: The most cards of one type ``plan MODEL`` (no --gpu) considers unless --gpus says otherwise.
PLAN_MAX_GPUS = 8


def gpu_rows(
    model: Model, workload: Inference | FineTune, *, max_gpus: int, cat: Catalog
) -> tuple[list[dict[str, Any]], list[str]]:
    """The catalog GPUs for ``workload`` on ``model`` as :func:`llmcatalog.which_gpus` ranks them: the rows
    listed (those that fit on at most ``max_gpus`` cards or are tight as given, then those whose memory
    would do but that cannot run the workload's formats, marked "cannot run: ..."), and the ids left
    out (they do not fit even on ``max_gpus`` cards)."""
    options = _quiet(lambda: which_gpus(model, workload, gpus=cat.gpus, max_gpus=max_gpus))
    rows: list[dict[str, Any]] = []
    left: list[str] = []
    for o in options:
        given = o.one_gpu or o.check
        if o.n_gpus is None and given.verdict != "tight":
            left.append(o.gpu.id)
            continue
        # the setup shown: the fewest cards that fit; the workload as given when it is tight there (with the
        # count that fits), or when the GPU cannot run it at all (no count of these helps)
        setup = o.check if o.runnable and o.n_gpus is not None and given.verdict != "tight" else given
        if not o.runnable:
            verdict = "cannot run: " + "; ".join(_short_reason(r, o.gpu) for r in o.incompatible)
        elif given.verdict == "tight":
            verdict = "tight" + ("" if o.n_gpus is None else f" (fits on {o.n_gpus})")
        else:
            verdict = setup.verdict
        rows.append(
            {
                "gpu": o.gpu.id,
                "name": o.gpu.name,
                "n_gpus": setup.n_gpus if o.runnable else None,
                "required_bytes": setup.required_bytes,
                "available_bytes": setup.available_bytes,
                "verdict": verdict,
                "runnable": o.runnable,
                "cannot_run": list(o.incompatible),
                "memory_verdict_as_given": given.verdict,
                "fewest_gpus_that_fit": o.n_gpus if o.runnable else None,
            }
        )
    return rows, left


def _short_reason(reason: str, gpu: GPU) -> str:
    """An incompatibility without the GPU's name (the row names it): "awq-int4: no documented ROCm kernel ..."."""
    return reason.replace(f" on the {gpu.name}:", ":").replace(f"the {gpu.name} has", "it has")


_FITTING_GPU_COLUMNS = (
    Column("gpu"),
    Column("n_gpus", "GPUs", lambda r: "-" if r["n_gpus"] is None else r["n_gpus"], right=True),
    Column("required_bytes", "GiB per GPU", lambda r: _gib(r["required_bytes"]), right=True),
    Column("available_bytes", "GiB allocatable", lambda r: _gib(r["available_bytes"]), right=True),
    Column("verdict"),
)


def _cmd_plan_gpus(args: argparse.Namespace, cat: Catalog, model: Model, workload: Inference | FineTune) -> int:
    """``plan MODEL`` without --gpu: which catalog GPUs fit, ranked as :func:`llmcatalog.which_gpus` does."""
    max_gpus = args.gpus if args.gpus is not None else max(PLAN_MAX_GPUS, workload.parallelism.n_gpus)
    if max_gpus < workload.parallelism.n_gpus:
        raise WorkloadError(
            f"--gpus {max_gpus} is fewer than the {workload.parallelism.n_gpus} GPUs the workload is split over "
            "(--tp x --pp x --dp): raise --gpus or drop the split"
        )
    rows, left = gpu_rows(model, workload, max_gpus=max_gpus, cat=cat)
    runs = [r for r in rows if r["runnable"]]
    code = 0 if runs else 1
    line = (
        f"{model.name} ({model.id}), {workload_label(workload)}: {len(runs)} catalog GPU type(s) "
        f"can run it on at most {max_gpus} card(s) each"
    )
    fmt = chosen_format(args)
    if fmt == "json":
        print(to_json({"model": model.id, "summary": line, "max_gpus": max_gpus, "gpus": rows, "not_listed": left}))
        return code
    if fmt != "table":
        print(render(rows, _FITTING_GPU_COLUMNS, fmt))
        return code
    print(_clean(line))
    if rows:
        print()
        print(render(rows, _FITTING_GPU_COLUMNS, "table"))
    print(
        f"\nGPUs: the fewest of that type that fit (as the options split the job, else pipeline stages; "
        f"data-parallel ranks for a fine-tune); 'fits' keeps at least {HEADROOM_FRACTION:.0%} of the allocatable "
        "memory free; 'cannot run': no kernel for the job's formats there, whatever the memory"
    )
    if left:
        print(f"{len(left)} other catalog GPU type(s) do not fit even on {max_gpus} cards (--gpus N considers more)")
    return code


def _cmd_plan(args: argparse.Namespace, cat: Catalog) -> int:
    _check_applicable(args)
    model = resolve_model(args.model, cat)
    _refuse_empty_gpu(args)
    if args.gpu is None and args.gpu_memory is None:
        return _cmd_plan_gpus(args, cat, model, _workload(args))
    gpu = _target_gpu(args, cat)
    workload = _workload(args)
    n = args.gpus if args.gpus is not None else workload.parallelism.n_gpus
    verdict, line, headers, rows = plan_rows(model, gpu, workload, n)
    fmt = chosen_format(args)
    if fmt != "table":
        records = [dict(zip(headers, r, strict=True)) for r in rows]
        if fmt == "json":
            print(
                to_json(
                    {
                        "model": model.id,
                        "gpu": gpu.id,
                        "verdict": verdict.verdict,
                        "required_bytes": verdict.required_bytes,
                        "available_bytes": verdict.available_bytes,
                        "summary": line,
                        "remedies": records,
                    }
                )
            )
        else:
            print(render(records, [Column(h) for h in headers], fmt))
        return 0 if verdict.verdict != "does not fit" else 1  # tight can run (docs/cli.md, exit status)
    print(_clean(line))
    if rows:
        print(f"\nremedies on {n}x {_clean(gpu.name)}, ranked (those that fit first, cheapest first):")
        print(table(headers, rows, right=(0, 3, 4)))
    if not verdict.fits and not any(r[-1] == "fits" for r in rows):
        print("no remedy expressible here makes it fit: more or larger GPUs are needed (--gpus N)")
    return 0 if verdict.verdict != "does not fit" else 1


def fit_rows(
    gpu: GPU,
    workload: Inference | FineTune,
    *,
    n_gpus: int,
    domain: str | None,
    language: str | None,
    include_tight: bool,
    cat: Catalog,
) -> tuple[list[str], list[list[object]]]:
    """The catalog models that fit, largest first, as (headers, rows) for a formatter."""
    found = _quiet(
        lambda: models_that_fit(
            gpu,
            workload,
            domain=domain,
            language=language,
            n_gpus=n_gpus,
            include_tight=include_tight,
            catalog=cat,
        )
    )
    speed = "training tokens/s" if isinstance(workload, FineTune) else "decode tokens/s"
    # "free GiB": allocatable minus required (FitCheck.margin_bytes); "headroom" elsewhere is the 5% kept free.
    headers = ["id", "name", "domain", "params", "GiB per GPU", "free GiB", speed, "verdict"]
    cannot = fit_cannot_run(gpu, workload)
    rows: list[list[object]] = [
        [
            f.model.id,
            f.model.name,
            f.model.domain,
            _params(f.model.n_params),
            _gib(f.check.required_bytes),
            _gib(f.check.margin_bytes),
            None if cannot else _fit_speed(f.model, gpu, workload, n_gpus),
            cannot or f.check.verdict,
        ]
        for f in found
    ]
    return headers, rows


def fit_cannot_run(gpu: GPU, workload: Inference | FineTune) -> str:
    """``"cannot run: <why>"`` when ``gpu`` has no kernel for a format the workload asks for (a given
    ``--precision``, a k-bit base, a bitsandbytes optimizer: :func:`llmcatalog.supports`, unknown verdicts
    included, as planning counts them), whatever the model; "" when it can. ``fit`` then marks every row
    so, rather than a plain "fits" (the memory alone would)."""
    from ..memory.estimate import incompatibilities
    from ..planning.choose import SMALLEST

    why = incompatibilities(SMALLEST, gpu, workload, known_only=False)
    return "cannot run: " + "; ".join(_short_reason(r, gpu) for r in why) if why else ""


def _fit_speed(model: Model, gpu: GPU, workload: Inference | FineTune, n_gpus: int) -> float | None:
    """Estimated tokens/s of ``workload`` spread over ``n_gpus`` as ``fit`` checks it
    (planning.sweep.estimated_tokens_per_s: decode at the full context, or training at the default
    MFU), rounded to 0.1; None when the GPU lacks a figure it needs or the speed cannot be estimated."""
    from ..planning.choose import spread
    from ..planning.sweep import estimated_tokens_per_s

    try:
        w = spread(workload, n_gpus, model.architecture) if model.architecture is not None else workload
        value = estimated_tokens_per_s(model, gpu, w, None)  # type: ignore[arg-type]  # the hook ignores it
    except LLMCatalogError:
        return None
    return None if value is None else round(value, 1)


def _cmd_fit(args: argparse.Namespace, cat: Catalog) -> int:
    _check_applicable(args)
    gpu = _target_gpu(args, cat)
    workload = _workload(args)
    n = args.gpus or 1
    headers, rows = fit_rows(
        gpu,
        workload,
        n_gpus=n,
        domain=args.domain,
        language=args.language,
        include_tight=args.tight,
        cat=cat,
    )
    cannot = fit_cannot_run(gpu, workload)
    code = 0 if rows and not cannot else 1
    fmt = chosen_format(args)
    if fmt != "table":
        print(render([dict(zip(headers, r, strict=True)) for r in rows], [Column(h) for h in headers], fmt))
        return code
    if rows:
        shown = [[*r[:6], "?" if r[6] is None else f"{r[6]:,.1f}", r[7]] for r in rows]
        print(table(headers, shown, right=(3, 4, 5, 6)))
    kind = f"fine-tune ({workload.method})" if isinstance(workload, FineTune) else "inference"
    if cannot:
        print(
            f"\nno model can run {kind} on {n}x {_clean(gpu.name)}: {_clean(cannot.removeprefix('cannot run: '))}"
            f" (GiB per GPU: what the {len(rows)} model(s) listed would need)"
        )
        return code
    print(
        f"\n{len(rows)} model(s) fit {kind} on {n}x {_clean(gpu.name)} "
        f"({_gib(gpu.available_bytes)} GiB allocatable each{_fallback_note(gpu)}; free GiB = allocatable - required; "
        f"'fits' keeps at least {HEADROOM_FRACTION:.0%} of the allocatable free as headroom)"
    )
    return code


def _cmd_validate(args: argparse.Namespace, cat: Catalog) -> int:
    fmt = chosen_format(args)
    bad = 0
    rows: list[dict[str, Any]] = []
    for path in args.files:
        try:
            entries = load_toml(path)
        except LLMCatalogError as exc:
            if fmt == "table":
                print(_clean(exc, lines=True), file=sys.stderr)
            rows.append(
                {"file": str(path), "ok": False, "models": None, "gpus": None, "tools": None, "error": str(exc)}
            )
            bad += 1
            continue
        counts = ", ".join(f"{len(v)} {k}" for k, v in entries.items() if v)
        if fmt == "table":
            print(f"{_clean(path)}: OK ({counts or 'empty'})")
        rows.append(
            {"file": str(path), "ok": True, **{k: len(entries.get(k, ())) for k in ("models", "gpus", "tools")}}
            | {"error": None}
        )
    if fmt != "table":
        columns = [Column(k) for k in ("file", "ok", "models", "gpus", "tools", "error")]
        print(render(rows, columns, fmt))
    return 2 if bad else 0


_PLUGIN_COLUMNS = (
    Column("group"),
    Column("plugin"),
    Column("distribution"),
    Column("version"),
    Column("kind"),
    Column("entries", right=True),
)


def _cmd_plugins(args: argparse.Namespace, cat: Catalog) -> int:
    fmt = chosen_format(args)
    rows = [
        {
            "group": p.group,
            "plugin": p.name,
            "distribution": p.distribution,
            "version": p.version,
            "kind": "built-in" if p.builtin else "third-party",
            "entries": p.count,
        }
        for p in cat.plugins
    ]
    if fmt != "table":
        skipped = [{"error": str(err)} for err in cat.plugin_errors]
        print(render_sections([("plugins", rows, _PLUGIN_COLUMNS), ("skipped", skipped, (Column("error"),))], fmt))
        return 0
    print(render(rows, _PLUGIN_COLUMNS, fmt))
    for err in cat.plugin_errors:
        print(f"\nskipped: {_clean(err, lines=True)}")
    return 0


_FIGURE_COLUMNS = (
    Column("model"),
    Column("workload"),
    Column("precision", show=lambda r: r["precision"] or ""),
    Column("batch_size", "batch", lambda r: r["batch_size"] or ""),
    Column("seq_len", "seq", lambda r: r["seq_len"] or ""),
    Column("n_gpus", "GPUs", lambda r: f"{r['n_gpus']}x {r['gpu'] or '?'}"),
    Column(
        "memory_value",
        "published",
        lambda r: f"{r['memory_value']:g} {r['memory_unit']}" if r["memory_value"] is not None else r["metric"],
    ),
    Column("metric"),
    Column("claimed_by", "claim, not measured, by", lambda r: r["claimed_by"] or ""),
)


def _cmd_figures(args: argparse.Namespace, cat: Catalog) -> int:
    pairs = cat.figures()
    if args.model:
        mid = cat.get_model(args.model).id
        pairs = tuple(p for p in pairs if p[0].id == mid)
    rows = [
        {
            "model": m.id,
            "workload": f.workload,
            "precision": f.precision,
            "batch_size": f.batch_size,
            "seq_len": f.seq_len,
            "n_gpus": f.n_gpus,
            "gpu": f.gpu,
            "memory_value": f.memory_value,
            "memory_unit": f.memory_unit,
            "memory_bytes": f.memory_bytes,
            "metric": f.metric,
            "source": f.source,
            "claimed_by": f.claimed_by,
        }
        for m, f in pairs
    ]
    fmt = chosen_format(args)
    if not rows and fmt == "table":  # as search: say there is nothing, exit 1
        what = f"{_clean(cat.get_model(args.model).name)} ({mid})" if args.model else "any model"
        print(f"no published figures for {what} (`llmcatalog figures` lists the models that have some)")
        return 1
    print(render(rows, _FIGURE_COLUMNS, fmt))
    return 0 if rows else 1


# -- parser --------------------------------------------------------------------------------
class _Version(argparse.Action):
    """``--version``: prints ``llmcatalog <version>``, reading the package metadata only then."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_args: object) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            installed = version("llmcatalog")
        except PackageNotFoundError:  # pragma: no cover - a source tree that was not installed
            installed = "0+unknown"
        print(f"llmcatalog {installed}")
        parser.exit()


def _count(text: str) -> float:
    """A parameter count: ``7e9``, ``7000000000``, ``7B``, ``1.5T``, ``500M``."""
    scale = {"K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9, "T": 1e12}
    t = text.strip().upper()
    try:
        return float(t[:-1]) * scale[t[-1]] if t and t[-1] in scale else float(t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a parameter count: {text!r} (e.g. 7e9 or 7B)") from None


def _add_workload_options(es: argparse.ArgumentParser) -> None:
    """The options that describe a workload (inference by default, fine-tuning with --finetune)."""
    es.add_argument("--finetune", choices=METHODS, help="estimate fine-tuning with this method instead of inference")
    es.add_argument(
        "--precision",
        default=None,
        choices=PRECISIONS,
        help="inference weight format (default: as the checkpoint stores it, from its quantization_config; else bf16)",
    )
    es.add_argument("--compute", choices=COMPUTE_DTYPES, help="activation dtype (default: the format's)")
    es.add_argument("--kv-precision", choices=KV_CACHE_DTYPES)
    es.add_argument(
        "--mla-cache",
        choices=MLA_CACHE_LAYOUTS,
        default="latent",
        help="DeepSeek-V2/V3 cache: latent (transformers 5, vLLM, SGLang; default) or expanded (transformers 4.x)",
    )
    es.add_argument("--batch", type=int, default=1)
    es.add_argument("--context", type=int, default=2048, help="prompt + generated tokens (inference)")
    es.add_argument("--prompt", type=int, help="prompt tokens prefilled at once (default: the whole context)")
    es.add_argument("--seq-len", type=int, default=2048, help="training sequence length")
    es.add_argument("--attention", choices=ATTENTION_IMPLEMENTATIONS, default="sdpa")
    es.add_argument(
        "--mixed",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="fp32 master weights with autocast (default) or pure 16-bit training",
    )
    es.add_argument("--optimizer", choices=OPTIMIZERS, help="default: adamw")
    es.add_argument("--optimizer-impl", choices=OPTIMIZER_IMPLS, help="default: foreach")
    es.add_argument(
        "--gradient-checkpointing",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="default: the method's common recipe (on for QLoRA / PEFT on a 4- or 8-bit base, else off)",
    )
    es.add_argument("--lora-rank", type=int, help="default: 8")
    es.add_argument("--lora-alpha", type=int, help="default: 16")
    es.add_argument("--lora-targets", help="comma-separated module names, or all-linear (default: q_proj,v_proj)")
    _add_peft_options(es)
    es.add_argument("--prefix-tokens", type=int, default=128)
    es.add_argument("--trainable-layers", type=int, default=2, help="freeze tuning: last N layers trained")
    es.add_argument("--train-embeddings", action="store_true")
    es.add_argument(
        "--moe-layout",
        choices=MOE_LAYOUTS,
        help="transformers layout of MoE experts that LoRA targets name (default: the --framework profile's, "
        "else transformers-5, fused)",
    )
    es.add_argument("--dp", type=int, default=1, help="data-parallel GPUs")
    es.add_argument("--tp", type=int, default=1, help="tensor-parallel GPUs")
    es.add_argument("--pp", type=int, default=1, help="pipeline stages (inference: device_map='auto' split)")
    es.add_argument("--zero", type=int, default=0, choices=(0, 1, 2, 3), help="DeepSpeed ZeRO stage")
    es.add_argument("--fsdp", default="none", choices=("none", "full-shard", "shard-grad-op"))
    es.add_argument("--offload-optimizer", action="store_true")
    es.add_argument("--offload-params", action="store_true")
    es.add_argument(
        "--deepspeed-config",
        metavar="PATH|PRESET",
        help='a DeepSpeed JSON config ("auto" resolved as the HF integration does) or a preset such as '
        "llamafactory-z3 (see docs/sharding.md)",
    )


def _add_gpu_options(p: argparse.ArgumentParser, listing: str = "") -> None:
    p.add_argument("--gpu", help="a catalog GPU (e.g. 'RTX 4090', 'A100 80GB')")
    p.add_argument(
        "--gpu-memory",
        type=_memory_size,
        help="a card not in the catalog, by its memory: 12GiB or 12G (2**30), 24GB (10**9), 16000MiB",
    )
    p.add_argument(
        "--gpus",
        type=_gpu_count,
        help="how many such GPUs you have, 1 or more (default: as the workload uses)"
        + (f"; {listing}" if listing else ""),
    )


#: The most GPUs ``--gpus`` takes (the bound planning.recommend checks too).
MAX_GPUS = 2**20


def _gpu_count(text: str) -> int:
    """``--gpus``: a whole number of GPUs from 1 to :data:`MAX_GPUS`."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of GPUs: {text!r} (e.g. --gpus 2)") from None
    if not 1 <= n <= MAX_GPUS:
        raise argparse.ArgumentTypeError(f"a number of GPUs from 1 to {MAX_GPUS:,} is needed, got {n}")
    return n


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and a hint, not the whole usage block (some
    subcommands have some 60 options): ``llmcatalog estimate: error: ...`` then
    ``(llmcatalog estimate --help lists the options)``; exit status 2 as argparse's."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {_clean(message)}", file=sys.stderr)
        print(f"({self.prog} --help lists the options)", file=sys.stderr)
        sys.exit(2)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="llmcatalog", description="Open LLM catalog and GPU-memory calculator.")
    p.add_argument("--version", action=_Version, help="print the version and exit")
    sub = p.add_subparsers(dest="command", required=True)

    ls = sub.add_parser("list", help="list models, gpus, tools or domains")
    ls.add_argument("what", choices=("models", "gpus", "tools", "domains"))
    ls.add_argument("--domain")
    ls.add_argument("--subdomain")
    ls.add_argument("--org", help="organisation (substring)")
    ls.add_argument("--language", help="ISO code (zh, en, ...); names such as chinese, 中文, english work too")
    ls.add_argument("--modality")
    ls.add_argument("--open", action="store_true", help="open weights only")
    ls.add_argument("--min-params", type=_count, help="e.g. 7e9 or 7B (K, M, B, T suffixes)")
    ls.add_argument("--max-params", type=_count, help="e.g. 70B")
    ls.add_argument("--base", help="direct fine-tunes of this model")
    add_format_option(ls, json_flag=True)
    ls.set_defaults(func=_cmd_list)

    se = sub.add_parser("search", help="full-text search over names, aliases and descriptions")
    se.add_argument("text")
    add_format_option(se)
    se.set_defaults(func=_cmd_search)

    sh = sub.add_parser("show", help="everything about one model, GPU or tool")
    sh.add_argument("name")
    add_format_option(sh)
    sh.set_defaults(func=_cmd_show)

    li = sub.add_parser("lineage", help="what a model is built on, and what is built on it")
    li.add_argument("name")
    add_format_option(li)
    li.set_defaults(func=_cmd_lineage)

    es = sub.add_parser("estimate", help="GPU memory for inference or fine-tuning", allow_abbrev=False)
    es.add_argument("model")
    es.add_argument("--gpu", help="check the fit on this GPU and find the fewest that fit")
    es.add_argument(
        "--gpu-memory",
        type=_memory_size,
        help="check the fit on a card not in the catalog, by its memory: 12GiB or 12G (2**30), 24GB (10**9), 16000MiB",
    )
    _add_workload_options(es)
    add_format_option(es, json_flag=True)
    add_engine_options(es)  # --engine, and the vLLM/SGLang options (cli/engines.py)
    _engines_llamacpp.add_options(es)  # the llama.cpp/Ollama options (cli/engines_llamacpp.py)
    es.set_defaults(func=_cmd_estimate)

    pn = sub.add_parser(
        "plan",
        help="does a job fit on a GPU, and what to change so that it does; without --gpu, which catalog GPUs fit it",
        allow_abbrev=False,
    )
    pn.add_argument("model")
    _add_gpu_options(pn, listing=f"without --gpu: the most cards of one type to consider (default {PLAN_MAX_GPUS})")
    _add_workload_options(pn)
    add_format_option(pn)
    pn.set_defaults(func=_cmd_plan)

    ft = sub.add_parser("fit", help="the catalog models that fit a GPU for a workload", allow_abbrev=False)
    _add_gpu_options(ft)
    ft.add_argument("--domain")
    ft.add_argument("--language", help="ISO code (zh, en, ...); names such as chinese, 中文, english work too")
    ft.add_argument("--tight", action="store_true", help="also list models that fit only inside the headroom")
    _add_workload_options(ft)
    add_format_option(ft)
    ft.set_defaults(func=_cmd_fit)

    va = sub.add_parser(
        "validate", help="check data files in llmcatalog's TOML format (regular files of at most 16 MiB)"
    )
    va.add_argument("files", nargs="+")
    add_format_option(va)
    va.set_defaults(func=_cmd_validate)

    pl = sub.add_parser("plugins", help="installed catalog plugins and the ones that failed")
    add_format_option(pl)
    pl.set_defaults(func=_cmd_plugins)

    fi = sub.add_parser("figures", help="published hardware figures")
    fi.add_argument("model", nargs="?")
    add_format_option(fi)
    fi.set_defaults(func=_cmd_figures)
    return p


def _show_warning(message: Warning | str, category: type[Warning], *_args: object, **_kwargs: object) -> None:
    """Warnings as one clean line on stderr (no Python source line), e.g. a skipped plugin."""
    print(f"llmcatalog: warning: {_clean(message, lines=True)}", file=sys.stderr)


#: What the command line can do for a model whose base has no architecture (the Python API's advice,
#: llmcatalog.get_model(), means nothing here: the command already looks names up in the catalog).
_CLI_LINEAGE_ADVICE = (
    "estimate the checkpoint itself instead: llmcatalog estimate ORG/NAME (its Hub id), a model folder, "
    "its config.json or a .gguf file"
)


_NEGATIVE = re.compile(r"-\d")


def _attach_negative_values(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """``--gpu-memory -12GiB`` as ``--gpu-memory=-12GiB``: argparse reads a token that starts with
    "-" and is no plain number as an option ("expected one argument"); attached, the value reaches
    the option's own check, which says what is wrong with it."""
    commands = [
        p
        for action in parser._actions  # argparse keeps its actions there (private, stable since 3.2)
        if isinstance(action, argparse._SubParsersAction)
        for p in action.choices.values()
    ]
    takes_value = {
        option
        for p in (parser, *commands)
        for action in p._actions
        if action.nargs is None and action.option_strings
        for option in action.option_strings
    }
    out: list[str] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        if token in takes_value and i + 1 < len(argv) and _NEGATIVE.match(argv[i + 1]):
            out.append(f"{token}={argv[i + 1]}")
            i += 2
            continue
        out.append(token)
        i += 1
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``llmcatalog`` command; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    argv = _attach_negative_values(parser, argv)
    args = parser.parse_args(argv)
    args.given = tuple(a.split("=", 1)[0] for a in argv if a.startswith("--"))
    func: Callable[[argparse.Namespace, Catalog], int] = args.func
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            cat = catalog() if args.command != "validate" else Catalog()
            return func(args, cat)
    except LLMCatalogError as exc:
        text = str(exc).replace(_estimate.LINEAGE_ADVICE, _CLI_LINEAGE_ADVICE)  # Python advice, in CLI words
        print(f"llmcatalog: error: {_clean(text, lines=True)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # pragma: no cover - e.g. piping into head
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
