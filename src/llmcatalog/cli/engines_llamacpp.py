"""``llmcatalog estimate MODEL --engine llama.cpp|ollama``: llama.cpp's buffers, Ollama's decision.

    llmcatalog estimate Llama-2-7b --engine llama.cpp --quant Q4_K_M --gpu "RTX 3060 12GB"
    llmcatalog estimate model.Q4_K_M.gguf --engine llama.cpp --context 16384 --flash-attn
    llmcatalog estimate Llama-2-7b --engine ollama --gpu "RTX 4060"

Self-contained: :func:`add_options` adds the options to the ``estimate`` parser and
:func:`run` prints the answer; ``cli/main.py`` dispatches here for these two engines.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import Any

import attrs

from ..engines import llamacpp, ollama
from ..engines.ggml_types import FILE_TYPES, KV_CACHE_TYPES
from ..errors import ContextLengthWarning, WorkloadError
from ..importers.gguf import GGUFCheckpoint, from_gguf
from ..registry.catalog import Catalog
from ..registry.resolve import resolve_model
from ..values.model import Model
from .output import Column, chosen_format, render, to_json

__all__ = ["ENGINES", "OPTIONS", "add_options", "check_workload_options", "refuse_options", "run"]

#: The engines this module answers for (``--engine`` values).
ENGINES = ("llama.cpp", "ollama")
MIB = 2**20


def add_options(es: argparse.ArgumentParser) -> None:
    """The llama.cpp/Ollama options of ``llmcatalog estimate`` (their defaults are the engines')."""
    g = es.add_argument_group("llama.cpp / Ollama (with --engine llama.cpp or ollama)")
    g.add_argument("--quant", type=str.upper, choices=sorted(FILE_TYPES), help="GGUF quant type (default Q4_K_M)")
    g.add_argument("--n-gpu-layers", type=int, default=-1, help="layers on the GPU (-1: all; Ollama: let it choose)")
    g.add_argument("--parallel", type=int, default=1, help="parallel sequences (llama.cpp -np, OLLAMA_NUM_PARALLEL)")
    g.add_argument("--kv-unified", action="store_true", help="one KV cache shared by all sequences")
    g.add_argument(
        "--flash-attn",
        nargs="?",
        const="on",
        default="auto",
        choices=("on", "off", "auto"),
        help="flash attention, llama.cpp -fa (default auto: on where supported; Ollama: off unless on)",
    )
    g.add_argument("--mmproj", action="store_true", help="llama.cpp: add the vision/audio mmproj file (F16)")
    g.add_argument("--cache-type", choices=KV_CACHE_TYPES, default="f16", help="K and V cache type (-ctk/-ctv)")
    g.add_argument("--ubatch", type=int, default=512, help="llama.cpp n_ubatch (Ollama: num_batch)")
    g.add_argument(
        "--mla-format",
        choices=("latent", "per-head"),
        help="DeepSeek/Kimi (MLA) GGUF format: latent (converted since April 2025; llama.cpp default) or"
        " per-head (older files, e.g. Ollama's library tags; Ollama default)",
    )
    g.add_argument(
        "--mla-v-cache",
        action="store_true",
        help="llama.cpp builds of April 2025 - January 2026: a latent MLA file keeps a V cache too",
    )


#: The options :func:`add_options` adds (they mean nothing to the transformers estimate).
OPTIONS = (
    "--quant",
    "--n-gpu-layers",
    "--parallel",
    "--kv-unified",
    "--flash-attn",
    "--cache-type",
    "--ubatch",
    "--mmproj",
    "--mla-format",
    "--mla-v-cache",
)
#: ``--flash-attn`` values -> llama.cpp's ``flash_attn`` setting.
_FA: dict[str, bool | str] = {"on": True, "off": False, "auto": "auto"}
_BUFFER_COLUMNS = (
    Column("buffer"),
    Column("device"),
    Column("mib", "MiB", right=True),
)


def refuse_options(args: argparse.Namespace) -> None:
    """A llama.cpp/Ollama option given without ``--engine llama.cpp|ollama`` is an error, not
    silently ignored."""
    given = [o for o in OPTIONS if o in getattr(args, "given", ())]
    if given:
        raise WorkloadError(
            f"{', '.join(given)} apply to --engine llama.cpp or ollama; add one of those or drop the option"
        )


#: Options of the transformers estimate that llama.cpp/Ollama have their own names for (refused, not ignored).
_THEIR_OWN = {
    "--kv-precision": "--cache-type",
    "--mla-cache": "--mla-format",
    "--attention": "--flash-attn",
}


def check_workload_options(args: argparse.Namespace) -> None:
    """Refuse what ``--engine llama.cpp|ollama`` cannot honour, and say on stderr how it reads the rest.

    ``--finetune``: serving engines do not fine-tune (refused, as with vLLM). Options with a llama.cpp
    name of their own (``--kv-precision``, ``--mla-cache``, ``--attention``) and ``--prompt`` /
    ``--compute`` (transformers only) are refused. ``--batch N`` is N concurrent requests: llama.cpp's
    ``-np`` / ``OLLAMA_NUM_PARALLEL``, the same as ``--parallel N`` (both given and different: refused).
    ``--tp`` / ``--pp``: a note that this estimate is for one GPU (multi-GPU splits are not modelled).
    """
    given = set(getattr(args, "given", ()))
    if getattr(args, "finetune", None):
        raise WorkloadError("--engine applies to inference: drop --finetune (serving engines do not fine-tune)")
    renamed = [f"{o} (use {their})" for o, their in _THEIR_OWN.items() if o in given]
    if renamed:
        raise WorkloadError(f"with --engine {args.engine}: {', '.join(renamed)}")
    stray = [o for o in ("--prompt", "--compute") if o in given]
    if stray:
        raise WorkloadError(
            f"{', '.join(stray)} describe transformers generate(); drop them with --engine {args.engine}"
        )
    if "--batch" in given:
        if "--parallel" in given and args.parallel != args.batch:
            raise WorkloadError(
                f"--batch {args.batch} and --parallel {args.parallel} disagree: with --engine {args.engine} both"
                " are the number of concurrent requests (llama.cpp -np, OLLAMA_NUM_PARALLEL); give one"
            )
        args.parallel = args.batch
        print(
            f"llmcatalog: note: --batch {args.batch}: {args.batch} concurrent requests, i.e. --parallel {args.batch}"
            " (llama.cpp -np / OLLAMA_NUM_PARALLEL)",
            file=sys.stderr,
        )
    split = [f"{o} {getattr(args, o[2:])}" for o in ("--tp", "--pp") if o in given and getattr(args, o[2:]) != 1]
    if split:
        print(
            f"llmcatalog: note: {', '.join(split)} not used: this {args.engine} estimate is for one GPU; tensor"
            " parallelism and multi-GPU splits (llama.cpp --split-mode/--tensor-split, Ollama's spread over"
            " GPUs) are not modelled. Concurrent requests are --parallel",
            file=sys.stderr,
        )


def _model(args: argparse.Namespace, cat: Catalog) -> Model | GGUFCheckpoint:
    if str(args.model).lower().endswith(".gguf"):
        return from_gguf(args.model)
    return resolve_model(args.model, cat)


def _mib(n: int) -> str:
    return f"{n / MIB:,.2f}"


def run(args: argparse.Namespace, cat: Catalog) -> int:
    """Print llama.cpp's buffers (or Ollama's decision) for ``args``; 1 when it does not fit."""
    model = _model(args, cat)
    gpu = cat.get_gpu(args.gpu) if args.gpu else None
    quant = args.quant if not isinstance(model, GGUFCheckpoint) else None
    if isinstance(model, GGUFCheckpoint) and args.quant:
        raise WorkloadError("--quant does not apply to a .gguf file: its tensors are read as stored")
    context_given = "--context" in getattr(args, "given", ())
    _note_precision(args, model, quant)
    if args.engine == "ollama":
        return _run_ollama(args, model, gpu, quant, context_given)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ContextLengthWarning)
        est = _estimate_llamacpp(args, model, gpu, quant, context_given)
    for w in caught:  # a context past the training length is worth a word on stderr, not a traceback
        print(f"llmcatalog: warning: {w.message}", file=sys.stderr)
    return _answer_llamacpp(args, est)


def _note_precision(args: argparse.Namespace, model: Model | GGUFCheckpoint, quant: str | None) -> None:
    """``--precision`` is the transformers estimate's weight format: llama.cpp and Ollama run GGUF quants, so
    say on stderr that it was not used and which quant was (a silent Q4_K_M would read as the format asked)."""
    if "--precision" not in getattr(args, "given", ()):
        return
    used = "the .gguf file's own types" if isinstance(model, GGUFCheckpoint) else f"--quant {quant or 'Q4_K_M'}"
    print(
        f"llmcatalog: note: {args.engine} runs GGUF quants, so --precision {args.precision} was not used; "
        f"the weights are {used}"
        + ("" if quant or isinstance(model, GGUFCheckpoint) else " (the default; pass --quant)"),
        file=sys.stderr,
    )


def _estimate_llamacpp(
    args: argparse.Namespace, model: Model | GGUFCheckpoint, gpu: Any, quant: str | None, context_given: bool
) -> llamacpp.LlamaCppEstimate:
    return llamacpp.estimate(
        model,
        quant=quant,
        n_ctx=args.context if context_given else 4096,
        n_parallel=args.parallel,
        kv_unified=args.kv_unified,
        type_k=args.cache_type,
        type_v=args.cache_type,
        flash_attn=_FA[args.flash_attn],
        n_ubatch=args.ubatch,
        n_gpu_layers=args.n_gpu_layers,
        gpu=gpu,
        mmproj=args.mmproj,
        mla_format=args.mla_format,
        mla_v_cache=args.mla_v_cache,
    )


def _answer_llamacpp(args: argparse.Namespace, est: llamacpp.LlamaCppEstimate) -> int:
    fmt = chosen_format(args)
    if fmt == "json":
        print(
            to_json(
                attrs.asdict(est) | {"gpu_total_bytes": est.gpu_total_bytes, "fits": est.fits, "verdict": est.verdict}
            )
        )
        return 0 if est.fits is not False else 1
    if fmt != "table":
        print(render(_buffer_rows(est), _BUFFER_COLUMNS, fmt))
        return 0 if est.fits is not False else 1
    _print_llamacpp(est)
    return 0 if est.fits is not False else 1


def _buffer_rows(est: llamacpp.LlamaCppEstimate) -> list[dict[str, Any]]:
    """The buffers as rows (markdown/csv), then the totals."""
    rows: list[dict[str, Any]] = [
        {"buffer": name, "device": device, "mib": round(size / MIB, 2), "bytes": size}
        for name, device, size in est.buffers()
        if size
    ]
    rows.append(
        {"buffer": "total", "device": "GPU", "mib": round(est.gpu_total_bytes / MIB, 2), "bytes": est.gpu_total_bytes}
    )
    rows.append(
        {"buffer": "total", "device": "CPU", "mib": round(est.cpu_total_bytes / MIB, 2), "bytes": est.cpu_total_bytes}
    )
    return rows


def _print_llamacpp(
    est: llamacpp.LlamaCppEstimate, title: str = "llama.cpp", verdict: str | None = None, planner: str = ""
) -> None:
    """The buffers, then (with a GPU) the verdict: llama.cpp's own (:attr:`~LlamaCppEstimate.verdict`)
    unless ``verdict`` (Ollama's) is given; ``planner`` is a line on how Ollama's split differs."""
    seqs = f"{est.n_parallel} sequence{'s' if est.n_parallel > 1 else ''}"
    print(
        f"{est.model} on {title}: {est.quant}, n_ctx {est.n_ctx} ({seqs}"
        f"{', unified KV' if est.kv_unified and est.n_parallel > 1 else ''}), n_ubatch {est.n_ubatch},"
        f" flash attention {'on' if est.flash_attn else 'off'}, KV {est.type_k}/{est.type_v}"
    )
    width = max(len(_mib(b)) for _, _, b in est.buffers())
    print(f"  {'buffer':<8} {'device':<6} {'MiB':>{width}}")
    for name, device, size in est.buffers():
        if size:
            print(f"  {name:<8} {device:<6} {_mib(size):>{width}}")
    print(
        f"  GPU total {_mib(est.gpu_total_bytes)} MiB ({est.gpu_total_bytes / 2**30:.2f} GiB),"
        f" host {_mib(est.cpu_total_bytes)} MiB; offloaded {est.offloaded} layers"
    )
    print(f"  GGUF file: {est.file_bytes / 1e9:.2f} GB of tensors (as download pages list it)")
    if est.swa_kv_cells is not None:
        print(f"  KV cells: {est.kv_cells} on global layers, {est.swa_kv_cells} on sliding-window layers")
    for note in est.notes:
        print(f"  - {note}")
    if est.gpu is None or est.gpu_capacity_bytes is None:
        return
    print(
        f"\n{est.gpu}: {est.gpu_capacity_bytes / 2**30:.2f} GiB, {est.reserve_bytes / 2**30:.2f} GiB kept free"
        f" ({est.reserve_reason}) -> {verdict or est.verdict}"
    )
    if planner:
        print(f"  {planner}")
    whose = "llama.cpp's buffers: " if verdict else ""
    print(f"  {whose}most layers that fit the GPU: {est.max_gpu_layers}/{est.n_layers + 1}")
    if est.fits and est.n_gpu_layers <= est.n_layers:
        print("  (the layers on the CPU run slower; a shorter context or a smaller quant keeps more on the GPU)")
    if est.max_n_ctx:
        cap = " (the model's training context)" if est.max_n_ctx >= est.n_ctx_train else ""
        print(f"  longest n_ctx with every layer on the GPU: {est.max_n_ctx}{cap}")
    else:
        print("  the model does not fit wholly even with 256 cells of context")


def _run_ollama(
    args: argparse.Namespace, model: Model | GGUFCheckpoint, gpu: Any, quant: str | None, context_given: bool
) -> int:
    est = ollama.estimate(
        model,
        gpu=gpu,
        quant=quant,
        num_ctx=args.context if context_given else None,
        num_parallel=args.parallel,
        num_batch=args.ubatch,
        flash_attn=args.flash_attn == "on",
        kv_cache_type=args.cache_type if args.cache_type in ("f16", "q8_0", "q4_0") else "f16",
        num_gpu=args.n_gpu_layers,
        mla_format=args.mla_format,
    )
    if args.mmproj:
        raise WorkloadError("--mmproj applies to --engine llama.cpp (Ollama loads the projector on its own)")
    fmt = chosen_format(args)
    status = 0 if est.fits is not False else 1
    if fmt == "json":
        print(to_json(attrs.asdict(est, recurse=True) | {"fits": est.fits, "verdict": est.verdict}))
        return status
    if fmt != "table":
        rows: list[dict[str, Any]] = [
            {"what": "layers offloaded", "value": f"{est.layers_offload}/{est.layers_model}"},
            {"what": "num_ctx", "value": est.num_ctx},
            {"what": "memory.required.full (bytes)", "value": est.total_bytes},
            {"what": "memory.required.partial (bytes)", "value": est.vram_bytes},
            {"what": "memory.required.kv (bytes)", "value": est.kv_bytes},
            {"what": "memory.graph.full (bytes)", "value": est.graph_full_bytes},
            {"what": "memory.graph.partial (bytes)", "value": est.graph_partial_bytes},
        ]
        rows.append({"what": "fits", "value": est.fits})
        print(render(rows, (Column("what"), Column("value", right=True)), fmt))
        return status
    print(
        f"{est.model} on Ollama: {est.quant}, num_ctx {est.num_ctx} x {est.num_parallel} parallel,"
        f" num_batch {est.num_batch}, flash attention {'on' if est.flash_attn else 'off'}, KV {est.kv_cache_type}"
    )
    print(f"  Ollama's estimate: offload {est.layers_offload}/{est.layers_model} layers")
    hb = ollama.human_bytes
    print(
        f"  memory.required.full={hb(est.total_bytes)} memory.required.partial={hb(est.vram_bytes)}"
        f" memory.required.kv={hb(est.kv_bytes)} memory.graph.full={hb(est.graph_full_bytes)}"
        f" memory.graph.partial={hb(est.graph_partial_bytes)}"
    )
    for note in est.notes:
        print(f"  - {note}")
    print()
    _print_llamacpp(
        est.llamacpp, title="the Ollama runner (llama.cpp)", verdict=est.verdict, planner=est.planner_note()
    )
    return status
