"""The ``llmcatalog`` command line: quick questions about the catalog and GPU memory.

    llmcatalog estimate "Llama-2-7b" --gpu "RTX 4090"
    llmcatalog estimate chatglm3-6b --finetune lora --seq-len 384 --gpu a100-sxm4-80gb
    llmcatalog list models --domain medical
    llmcatalog search 华佗
    llmcatalog show qwen-7b-chat
    llmcatalog lineage llama-7b
    llmcatalog validate my_models.toml

Exit status: 0 on success, 1 when the answer is "does not fit", 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import ContextLengthWarning, LLMCatalogError, WorkloadError
from ..memory import estimate as _estimate
from ..registry.catalog import Catalog
from ..registry.plugins import catalog, load_toml
from ..registry.resolve import resolve_model
from ..values.frameworks import FRAMEWORKS
from ..values.gpu import GPU
from ..values.model import Model
from ..values.tool import Tool
from ..values.workload import (
    ATTENTION_IMPLEMENTATIONS,
    BASE_FORMATS,
    COMPUTE_DTYPES,
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

__all__ = ["main"]

GIB = 2**30


# -- formatting ----------------------------------------------------------------------------
# C0 controls, DEL and C1 controls (U+0080-U+009F; U+009B is a one-character CSI). Catalog text
# can come from any installed plugin: an ESC or CSI printed as-is could retitle the terminal,
# hide lines or forge output, so every control character is shown as a visible escape instead.
# Bidirectional controls (U+061C, U+200E/F, U+202A-U+202E, U+2066-U+2069) reorder what follows them on
# screen ("Trojan Source", CVE-2021-42574): escaped as well.
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_CONTROL = re.compile(f"[\\x00-\\x1f\\x7f-\\x9f{_BIDI}]")
_CONTROL_KEEP_LINES = re.compile(f"[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f{_BIDI}]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _clean(text: object, *, lines: bool = False) -> str:
    """``text`` safe to print on a terminal: control characters become visible ``\\xNN`` escapes.

    ``lines=True`` keeps newlines and tabs (multi-line descriptions); table cells get them escaped.
    """
    return (_CONTROL_KEEP_LINES if lines else _CONTROL).sub(_escape, str(text))


def _json(obj: object) -> str:
    # json escapes C0 controls itself; with ensure_ascii=False it leaves DEL and C1 raw.
    return re.sub(r"[\x7f-\x9f]", lambda m: f"\\u{ord(m.group()):04x}", json.dumps(obj, ensure_ascii=False, indent=2))


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int, right: bool = False) -> str:
    fill = " " * max(width - _width(text), 0)
    return fill + text if right else text + fill


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], right: Sequence[int] = ()) -> str:
    """A plain-text table; CJK characters count as two columns."""
    headers = [_clean(h) for h in headers]
    cells = [[("" if c is None else _clean(c)) for c in row] for row in rows]
    widths = [max([_width(h)] + [_width(r[i]) for r in cells]) for i, h in enumerate(headers)]
    lines = ["  ".join(_pad(h, w, i in right) for i, (h, w) in enumerate(zip(headers, widths, strict=True))).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for r in cells:
        lines.append("  ".join(_pad(c, w, i in right) for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip())
    return "\n".join(lines)


def _params(n: int | None) -> str:
    if n is None:
        return "?"
    if n >= 10**9:
        return f"{n / 1e9:.2f}B"
    return f"{n / 1e6:.0f}M"


def _gib(n: int | float | None) -> str:
    return "" if n is None else f"{n / GIB:.2f}"


# -- commands ------------------------------------------------------------------------------
def _cmd_list(args: argparse.Namespace, cat: Catalog) -> int:
    if args.what == "gpus":
        rows = [
            [
                g.id,
                g.name,
                g.vendor,
                _gib(g.memory_bytes),
                g.memory_type,
                g.bandwidth_gb_s,
                g.fp32_tflops,
                g.bf16_tflops or g.fp16_tflops,
            ]
            for g in cat.gpus
        ]
        print(
            table(
                ["id", "name", "vendor", "GiB", "memory", "GB/s", "FP32 TFLOPS", "16-bit TFLOPS"],
                rows,
                right=(3, 5, 6, 7),
            )
        )
        return 0
    if args.what == "tools":
        print(table(["id", "name", "category", "url"], [[t.id, t.name, t.category, t.url] for t in cat.tools]))
        return 0
    if args.what == "domains":
        print(table(["domain", "models"], [[d, n] for d, n in cat.domains().items()], right=(1,)))
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
    if args.json:
        print(_json([_model_summary(m) for m in models]))
        return 0
    print(_models_table(models))
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
    }


def _models_table(models: Sequence[Model]) -> str:
    rows = [
        [
            m.id,
            m.name,
            m.domain,
            _params(m.n_params) if m.n_params else (m.size_label or "?"),
            (m.organization or "")[:28],
            m.base_model or "",
            {True: "yes", False: "no", None: "?"}[m.open_weights],
        ]
        for m in models
    ]
    return table(["id", "name", "domain", "params", "organization", "base model", "open"], rows)


def _cmd_search(args: argparse.Namespace, cat: Catalog) -> int:
    models = cat.search(args.text)
    tools = cat.search_tools(args.text)
    if models:
        print(_models_table(models))
    if tools:
        print()
        print(table(["tool", "name", "category", "url"], [[t.id, t.name, t.category, t.url] for t in tools]))
    if not models and not tools:
        print(f"nothing matches {args.text!r}")
        return 1
    return 0


def _cmd_show(args: argparse.Namespace, cat: Catalog) -> int:
    errors: list[LLMCatalogError] = []
    for getter in (lambda name: resolve_model(name, cat), cat.get_gpu, cat.get_tool):
        try:
            entry = getter(args.name)
        except LLMCatalogError as exc:
            errors.append(exc)
            continue
        print(_describe(entry, cat))
        return 0
    raise errors[0]


def _describe(entry: Model | GPU | Tool, cat: Catalog) -> str:
    lines = []

    def add(label: str, value: object, *, multiline: bool = False) -> None:
        # Only prose (descriptions, notes) keeps its line breaks: a newline in a name or an organisation
        # could forge a line of this output, so it is shown escaped.
        if value not in (None, "", (), []):
            lines.append(f"{label:<15} {_clean(value, lines=multiline)}")

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
            add("figure", f"{value}  [{setting}]  {f.source}")
        add("notes", entry.notes, multiline=True)
    elif isinstance(entry, GPU):
        add("vendor", entry.vendor)
        add("memory", f"{entry.memory_gib:g} GiB {entry.memory_type or ''}".rstrip())
        if entry.usable_memory_bytes:
            add("usable", f"{entry.usable_memory_bytes / 2**20:.0f} MiB (driver-reported)")
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
    return "\n".join(lines)


def _cmd_lineage(args: argparse.Namespace, cat: Catalog) -> int:
    m = cat.get_model(args.name)
    up = cat.ancestors(m)
    print(
        "built on:      "
        + (" <- ".join([m.id, *(a.id for a in up)]) if up else f"{m.id} (no base model in the catalog)")
    )
    down = cat.descendants(m)
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
        moe_layout=args.moe_layout,
        parallelism=par,
    )
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
    if args.finetune or args.framework:
        return _finetune_workload(args, par)
    return Inference(
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


#: Options of `estimate` that only mean something for one kind of workload.
_TRAINING_ONLY = (
    "--seq-len", "--mixed", "--no-mixed", "--optimizer", "--optimizer-impl", "--gradient-checkpointing",
    "--lora-rank", "--lora-alpha", "--lora-targets", "--prefix-tokens", "--trainable-layers",
    "--train-embeddings", "--moe-layout", "--dp", "--zero", "--fsdp", "--offload-optimizer", "--offload-params",
    "--framework-version", "--dora", "--base-format", "--modules-to-save", "--loop", "--loss", "--autocast",
    "--no-autocast",
)  # fmt: skip
#: Fine-tuning options that one family of methods reads (the others would ignore them).
_METHOD_ONLY = {
    ("lora", "qlora"): ("--lora-rank", "--lora-alpha", "--lora-targets", "--moe-layout", "--dora"),
    ("p-tuning-v2", "prefix-tuning"): ("--prefix-tokens",),
    ("freeze",): ("--trainable-layers",),
}
_INFERENCE_ONLY = ("--precision", "--kv-precision", "--mla-cache", "--context", "--prompt")


def _add_peft_options(es: argparse.ArgumentParser) -> None:
    """The PEFT and framework options of ``estimate`` (issue 10)."""
    es.add_argument(
        "--framework",
        choices=sorted(FRAMEWORKS),
        help="start from what this tool does by default (FineTune.for_framework); given options win",
    )
    es.add_argument("--framework-version", help="the release whose defaults to use (default: the newest profile)")
    es.add_argument("--dora", action="store_true", help="DoRA (PEFT use_dora) instead of plain LoRA")
    es.add_argument("--base-format", choices=BASE_FORMATS, help="frozen base format of a PEFT method (e.g. bnb-int8)")
    es.add_argument("--modules-to-save", help="comma-separated trainable full copies: embed_tokens, lm_head")
    es.add_argument("--loop", choices=LOOPS, help="trainer (default) or plain (keeps the step's outputs alive)")
    es.add_argument("--loss", choices=LOSS_IMPLS, help="how the loss is computed (default: full-logits)")
    es.add_argument(
        "--autocast",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run under torch.autocast (default: with --mixed); --no-autocast with fp32 PEFT adapters",
    )


def _check_applicable(args: argparse.Namespace) -> None:
    """Refuse options the chosen workload would silently ignore (they would change nothing)."""
    given = set(getattr(args, "given", ()))
    if args.finetune or args.framework:
        stray = [o for o in _INFERENCE_ONLY if o in given]
        if stray:
            raise WorkloadError(
                f"{', '.join(stray)} {'applies' if len(stray) == 1 else 'apply'} to inference only"
                " (a fine-tune's length is --seq-len and its dtype --compute): drop them, or drop --finetune"
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


def _cmd_estimate(args: argparse.Namespace, cat: Catalog) -> int:
    _check_applicable(args)
    model = resolve_model(args.model, cat)  # a catalog name, Hub id, model folder, config.json or .gguf
    gpu = cat.get_gpu(args.gpu) if args.gpu else None
    workload = _workload(args)
    with warnings.catch_warnings(record=True) as caught:
        # A context past the model's limit is worth a word, not a refusal: say it on stderr.
        warnings.simplefilter("always", ContextLengthWarning)
        est = _estimate.estimate_vram(model, workload)
    for w in caught:
        if issubclass(w.category, ContextLengthWarning):
            print(f"llmcatalog: warning: {w.message}", file=sys.stderr)
        else:  # pragma: no cover - nothing else warns here today; pass it on unchanged
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    fits = gpu is not None and est.total_bytes <= gpu.available_bytes

    def fewest() -> int | None:
        assert gpu is not None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ContextLengthWarning)  # already said above
            return _estimate.min_gpus(model, gpu, workload)

    if args.json:
        out = est.as_dict()
        out["model"] = model.id
        if gpu is not None:
            out.update(
                gpu=gpu.id,
                gpu_available_bytes=gpu.available_bytes,
                fits=fits,
                min_gpus=fewest(),
            )
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0 if gpu is None or fits else 1
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
        print(f"  - {_clean(a)}")
    if gpu is None:
        return 0
    verdict = "fits" if fits else "does NOT fit"
    print(
        f"\n{_clean(gpu.name)}: {_gib(gpu.available_bytes)} GiB available -> {verdict}"
        f" ({est.total_bytes / gpu.available_bytes:.0%} of its memory)"
    )
    if not fits:
        n = fewest()
        if n is None:
            print("   not even 1024 of these GPUs fit this workload as configured")
        else:
            how = "pipeline stages" if isinstance(workload, Inference) else "data-parallel GPUs"
            print(f"   fewest {_clean(gpu.name)} that fit: {n} ({how})")
        for hint in _remedies(workload, est):
            print(f"   try {hint}")
    return 0 if fits else 1


def _remedies(workload: Inference | FineTune, est: _estimate.MemoryEstimate) -> list[str]:
    """Settings of the user's own workload that would cut the per-GPU memory, largest part first.

    A short, honest list (what is not used yet and what it acts on), not a search: more GPUs cannot
    shrink activations, so a fine-tune dominated by them is pointed at checkpointing first.
    """
    out: list[tuple[int, str]] = []
    gib = 2**30
    if isinstance(workload, FineTune):
        p = workload.parallelism
        if not workload.checkpointing and est.activations_bytes:
            out.append(
                (
                    est.activations_bytes,
                    f"--gradient-checkpointing (activations: {est.activations_bytes / gib:.1f} GiB)",
                )
            )
        states = est.optimizer_bytes + est.gradients_bytes + est.components.get("weights.trainable", 0)
        if p.shard_stage < 3 and states:
            out.append(
                (states, f"--zero 3 with --dp N (shards {states / gib:.1f} GiB of parameters, gradients and states)")
            )
        if workload.method == "full":
            out.append((states, "--finetune lora or qlora (trains a small adapter instead of every weight)"))
    else:
        if est.kv_cache_bytes:
            kv = est.kv_cache_bytes
            out.append((kv, f"a shorter --context or smaller --batch (KV cache: {kv / gib:.1f} GiB)"))
        if not workload.weight_format.quantized and est.weights_bytes:
            w = est.weights_bytes
            out.append((w, f"a 4-bit --precision such as awq-int4 or bnb-nf4 (weights: {w / gib:.1f} GiB)"))
    out.sort(key=lambda t: -t[0])
    return [text for _, text in out]


def _cmd_validate(args: argparse.Namespace, cat: Catalog) -> int:
    bad = 0
    for path in args.files:
        try:
            entries = load_toml(path)
        except LLMCatalogError as exc:
            print(_clean(exc, lines=True), file=sys.stderr)
            bad += 1
            continue
        counts = ", ".join(f"{len(v)} {k}" for k, v in entries.items() if v)
        print(f"{_clean(path)}: OK ({counts or 'empty'})")
    return 2 if bad else 0


def _cmd_plugins(args: argparse.Namespace, cat: Catalog) -> int:
    rows = [
        [p.group, p.name, p.distribution, p.version, "built-in" if p.builtin else "third-party", p.count]
        for p in cat.plugins
    ]
    print(table(["group", "plugin", "distribution", "version", "kind", "entries"], rows, right=(5,)))
    for err in cat.plugin_errors:
        print(f"\nskipped: {_clean(err, lines=True)}")
    return 0


def _cmd_figures(args: argparse.Namespace, cat: Catalog) -> int:
    pairs = cat.figures()
    if args.model:
        mid = cat.get_model(args.model).id
        pairs = tuple(p for p in pairs if p[0].id == mid)
    rows = []
    for m, f in pairs:
        value = f"{f.memory_value:g} {f.memory_unit}" if f.memory_value is not None else f.metric
        rows.append(
            [
                m.id,
                f.workload,
                f.precision or "",
                f.batch_size or "",
                f.seq_len or "",
                f"{f.n_gpus}x {f.gpu or '?'}",
                value,
                f.metric,
            ]
        )
    print(table(["model", "workload", "precision", "batch", "seq", "GPUs", "published", "metric"], rows))
    return 0


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


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="llmcatalog", description="Open LLM catalog and GPU-memory calculator.")
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
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_cmd_list)

    se = sub.add_parser("search", help="full-text search over names, aliases and descriptions")
    se.add_argument("text")
    se.set_defaults(func=_cmd_search)

    sh = sub.add_parser("show", help="everything about one model, GPU or tool")
    sh.add_argument("name")
    sh.set_defaults(func=_cmd_show)

    li = sub.add_parser("lineage", help="what a model is built on, and what is built on it")
    li.add_argument("name")
    li.set_defaults(func=_cmd_lineage)

    es = sub.add_parser("estimate", help="GPU memory for inference or fine-tuning", allow_abbrev=False)
    es.add_argument("model")
    es.add_argument("--gpu", help="check the fit on this GPU and find the fewest that fit")
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
        default=MOE_LAYOUTS[0],
        help="transformers layout of MoE experts that LoRA targets name (default: transformers-5, fused)",
    )
    es.add_argument("--dp", type=int, default=1, help="data-parallel GPUs")
    es.add_argument("--tp", type=int, default=1, help="tensor-parallel GPUs")
    es.add_argument("--pp", type=int, default=1, help="pipeline stages (inference: device_map='auto' split)")
    es.add_argument("--zero", type=int, default=0, choices=(0, 1, 2, 3), help="DeepSpeed ZeRO stage")
    es.add_argument("--fsdp", default="none", choices=("none", "full-shard", "shard-grad-op"))
    es.add_argument("--offload-optimizer", action="store_true")
    es.add_argument("--offload-params", action="store_true")
    es.add_argument("--json", action="store_true")
    es.set_defaults(func=_cmd_estimate)

    va = sub.add_parser(
        "validate", help="check data files in llmcatalog's TOML format (regular files of at most 16 MiB)"
    )
    va.add_argument("files", nargs="+")
    va.set_defaults(func=_cmd_validate)

    pl = sub.add_parser("plugins", help="installed catalog plugins and the ones that failed")
    pl.set_defaults(func=_cmd_plugins)

    fi = sub.add_parser("figures", help="published hardware figures")
    fi.add_argument("model", nargs="?")
    fi.set_defaults(func=_cmd_figures)
    return p


def _show_warning(message: Warning | str, category: type[Warning], *_args: object, **_kwargs: object) -> None:
    """Warnings as one clean line on stderr (no Python source line), e.g. a skipped plugin."""
    print(f"llmcatalog: warning: {_clean(message, lines=True)}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``llmcatalog`` command; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    args.given = tuple(a.split("=", 1)[0] for a in argv if a.startswith("--"))
    func: Callable[[argparse.Namespace, Catalog], int] = args.func
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            cat = catalog() if args.command != "validate" else Catalog()
            return func(args, cat)
    except LLMCatalogError as exc:
        print(f"llmcatalog: error: {_clean(exc, lines=True)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # pragma: no cover - e.g. piping into head
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
