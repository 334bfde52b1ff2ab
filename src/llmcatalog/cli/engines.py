"""``llmcatalog estimate MODEL --engine ENGINE``: what a serving engine would report at start-up.

    llmcatalog estimate llama-3.1-8b --engine vllm --gpu H100
    llmcatalog estimate qwen3-8b --engine sglang --gpu "RTX 4090" --context 8192
    llmcatalog estimate llama-3.1-8b --engine all --gpu A100 --max-model-len 32768

``--engine transformers`` (the default) is the ``estimate`` command's own estimate; the other engines
are answered here. Exit status: 0 when the engine starts and holds ``--batch`` requests of
``--context`` tokens, 1 when not, 2 on bad input. With ``--engine all`` the question is "which engine
serves it": 0 when at least one engine does, 1 when none does, 2 on bad input.

``--context N`` is the request length the user asks about, so it is also what the engines are started
with: vLLM's ``max_model_len`` and SGLang's ``context_length`` default to it (as ``vllm serve
--max-model-len N`` would) unless ``--max-model-len`` / ``--context-length`` are given, or N exceeds the
model's maximum context (then the engines keep their own default and the row says the request is too long).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable
from typing import Any

from ..engines.dispatch import ENGINES, EngineSettings, compare_engines, engine_compatibility, engine_estimate
from ..engines.result import EngineBreakdown
from ..engines.sglang import SGLANG_KV_DTYPES, SGLangSettings
from ..engines.vllm import BLOCK_SIZES, KV_CACHE_DTYPES, USAGE_CONTEXTS, VLLMSettings
from ..errors import CompatibilityWarning, ContextLengthWarning, WorkloadError
from ..registry.catalog import Catalog
from ..registry.resolve import resolve_model
from ..values.gpu import GPU
from ..values.model import Model
from ..values.workload import FineTune, Inference
from .output import Column, chosen_format, render, to_json

__all__ = ["ENGINE_CHOICES", "add_engine_options", "engine_requested", "run_engine_estimate"]

#: ``--engine`` choices: the engines, and ``all`` for every engine side by side.
ENGINE_CHOICES = (*ENGINES, "all")
GIB = 2**30

_VLLM_OPTIONS = {
    "--gpu-memory-utilization": "gpu_memory_utilization",
    "--max-model-len": "max_model_len",
    "--max-num-seqs": "max_num_seqs",
    "--max-num-batched-tokens": "max_num_batched_tokens",
    "--block-size": "block_size",
    "--kv-cache-dtype": "kv_cache_dtype",
    "--enforce-eager": "enforce_eager",
    "--usage-context": "usage_context",
}
_SGLANG_OPTIONS = {
    "--mem-fraction-static": "mem_fraction_static",
    "--max-running-requests": "max_running_requests",
    "--chunked-prefill-size": "chunked_prefill_size",
    "--cuda-graph-max-bs": "cuda_graph_max_bs",
    "--sglang-kv-cache-dtype": "kv_cache_dtype",
    "--context-length": "context_length",
}
#: Options of `estimate` that the serving engines read from the workload.
_SHARED = ("--precision", "--compute", "--tp", "--pp", "--context", "--batch", "--mla-cache")


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--engine`` and the engines' own options to the ``estimate`` parser."""
    g = parser.add_argument_group("serving engines (with --engine)")
    g.add_argument(
        "--engine",
        choices=ENGINE_CHOICES,
        default="transformers",
        help="whose memory plan: transformers generate() (default), vllm, sglang, llama.cpp, ollama, or all",
    )
    g.add_argument("--gpu-memory-utilization", type=float, help="vLLM: share of the GPU it takes (default 0.9)")
    g.add_argument("--max-model-len", type=int, help="vLLM: longest request (default: the model's maximum)")
    g.add_argument("--max-num-seqs", type=int, help="vLLM: most requests at once (default: 256, 1024 on H100/H200)")
    g.add_argument("--max-num-batched-tokens", type=int, help="vLLM: tokens per step (default 2048, 8192 on H100)")
    g.add_argument("--block-size", type=int, choices=BLOCK_SIZES, help="vLLM: tokens per KV block (default 16)")
    g.add_argument("--kv-cache-dtype", choices=tuple(KV_CACHE_DTYPES), help="vLLM: KV-cache dtype (default auto)")
    g.add_argument("--enforce-eager", action="store_true", help="vLLM: no CUDA graphs")
    g.add_argument("--usage-context", choices=USAGE_CONTEXTS, help="vLLM: defaults of `vllm serve` or the LLM class")
    g.add_argument("--mem-fraction-static", type=float, help="SGLang: static share of the GPU (default by GPU)")
    g.add_argument("--max-running-requests", type=int, help="SGLang: most requests at once")
    g.add_argument("--chunked-prefill-size", type=int, help="SGLang: prefill chunk (default by GPU)")
    g.add_argument("--cuda-graph-max-bs", type=int, help="SGLang: largest CUDA-graph batch")
    g.add_argument("--sglang-kv-cache-dtype", choices=tuple(SGLANG_KV_DTYPES), help="SGLang: KV-cache dtype")
    g.add_argument("--context-length", type=int, help="SGLang: longest request (default: the model's maximum)")


def engine_requested(args: argparse.Namespace) -> bool:
    """Whether the ``estimate`` command should hand over to :func:`run_engine_estimate`."""
    given = set(getattr(args, "given", ()))
    stray = [o for o in (*_VLLM_OPTIONS, *_SGLANG_OPTIONS) if o in given]
    if args.engine == "transformers":
        if stray:
            raise WorkloadError(f"{', '.join(stray)} apply to --engine vllm/sglang only: add --engine, or drop them")
        return False
    return True


def _settings(args: argparse.Namespace, options: dict[str, str]) -> dict[str, Any]:
    given = set(getattr(args, "given", ()))
    return {field: getattr(args, flag[2:].replace("-", "_")) for flag, field in options.items() if flag in given}


def _check(args: argparse.Namespace) -> None:
    given = set(getattr(args, "given", ()))
    if args.finetune:
        raise WorkloadError("--engine applies to inference: drop --finetune (serving engines do not fine-tune)")
    if args.gpu is None:
        raise WorkloadError("--engine needs --gpu: the engines size their caches from the GPU's memory")
    if "--kv-precision" in given:
        raise WorkloadError(
            "with --engine vllm use --kv-cache-dtype, with sglang --sglang-kv-cache-dtype (not --kv-precision)"
        )
    if "--attention" in given or "--prompt" in given:
        raise WorkloadError("--attention and --prompt describe transformers generate(); drop them with --engine")
    if args.engine == "vllm" and any(o in given for o in _SGLANG_OPTIONS):
        raise WorkloadError("SGLang options (--mem-fraction-static, ...) apply to --engine sglang or all")
    if args.engine == "sglang" and any(o in given for o in _VLLM_OPTIONS):
        raise WorkloadError("vLLM options (--gpu-memory-utilization, ...) apply to --engine vllm or all")


def _gib(n: float) -> str:
    return f"{n / GIB:.2f}"


def _row(b: EngineBreakdown) -> list[str]:
    conc = "-" if b.max_concurrency is None else f"{b.max_concurrency:.2f}"
    tokens = "-" if b.kv_tokens is None else f"{b.kv_tokens:,}"
    verdict = ("yes" if b.fits else "NO") if b.estimated else "n/a"
    if b.fits and getattr(b.detail, "fully_offloaded", True) is False:  # Ollama's own split: some layers on the CPU
        verdict = "yes, partial offload"
    sizes = (b.weights_bytes, b.kv_cache_bytes, b.activation_bytes, b.other_bytes, b.total_bytes)
    cells = [_gib(n) if b.estimated else "-" for n in sizes]  # an engine that could not answer has no figures
    return [b.engine, b.version, b.weights_format or "-", *cells, tokens, conc, verdict]


#: The columns of ``--format markdown|csv`` (csv also carries every other figure of the row).
_COLUMNS = (
    Column("engine"),
    Column("version"),
    Column("weights_format", "weights"),
    Column("weights_gib", "weights GiB", right=True),
    Column("kv_cache_gib", "KV cache GiB", right=True),
    Column("activation_gib", "activations GiB", right=True),
    Column("other_gib", "other GiB", right=True),
    Column("total_gib", "total GiB", right=True),
    Column("kv_tokens", "KV tokens", right=True),
    Column("max_concurrency", "requests", right=True),
    Column("fits"),
)


def _record(b: EngineBreakdown) -> dict[str, Any]:
    gib = {f"{k[:-6]}_gib": round(v / GIB, 3) for k, v in b.as_dict().items() if k.endswith("_bytes")}
    return {**b.as_dict(), **gib, "log": _log(b)}


def run_engine_estimate(
    args: argparse.Namespace,
    cat: Catalog,
    workload: Inference | FineTune,
    *,
    clean: Callable[[object], str],
    table: Callable[..., str],
) -> int:
    """Print what ``args.engine`` (or every engine, ``all``) would report; the exit status.

    ``clean`` and ``table`` are the command line's own formatting (``cli/main.py``), handed in so that
    this module never imports the one that imports it.
    """
    _check(args)
    assert isinstance(workload, Inference)  # _check refused --finetune
    model = resolve_model(args.model, cat)
    gpu = cat.get_gpu(args.gpu)
    settings: dict[str, EngineSettings] = {
        "vllm": VLLMSettings(**_context_default(args, model, _settings(args, _VLLM_OPTIONS), "max_model_len")),
        "sglang": SGLangSettings(**_context_default(args, model, _settings(args, _SGLANG_OPTIONS), "context_length")),
    }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ContextLengthWarning)
        warnings.simplefilter("always", CompatibilityWarning)
        if args.engine == "all":
            results = compare_engines(model, gpu, workload, settings=settings)
        else:
            results = {args.engine: engine_estimate(model, gpu, args.engine, workload, settings.get(args.engine))}
    for message in dict.fromkeys(str(w.message) for w in caught):  # each once, on stderr
        print(f"llmcatalog: warning: {message}", file=sys.stderr)
    for message in compatibility_notes(model, gpu, workload, tuple(results)):
        print(f"llmcatalog: note: {message}", file=sys.stderr)
    split = workload.parallelism.tensor_parallel * workload.parallelism.pipeline_parallel
    gguf = [name for name in ("llama.cpp", "ollama") if name in results]
    if split > 1 and gguf:
        print(
            f"llmcatalog: note: the {' and '.join(gguf)} rows are for one GPU: their multi-GPU splits are not"
            " modelled (--tp/--pp not used there); their concurrent requests are --batch",
            file=sys.stderr,
        )
    fmt = chosen_format(args)
    if fmt == "json":
        out = {name: _record(b) for name, b in results.items()}
        print(to_json({"model": model.id, "gpu": gpu.id, "engines": out}))
        return _status(results, args.engine)
    if fmt != "table":  # markdown / csv: the comparison table
        print(render([_record(b) for b in results.values()], _COLUMNS, fmt))
        return _status(results, args.engine)
    print(clean(f"{model.name} ({model.id}) on {gpu.name}: {_gib(gpu.available_bytes)} GiB per GPU"))
    par = workload.parallelism
    print(
        f"workload: {workload.batch_size} request(s) of {workload.context_tokens:,} tokens, "
        f"tensor_parallel={par.tensor_parallel}, pipeline_parallel={par.pipeline_parallel}"
    )
    from_context = [
        label
        for name, label in (("vllm", "vLLM's max_model_len"), ("sglang", "SGLang's context_length"))
        if name in results and _from_context(args, settings[name], name)
    ]
    if from_context:
        print(f"{' and '.join(from_context)}: {workload.context_tokens:,} (from --context)")
    for name, b in results.items():
        print(f"\n[{name}{' ' + b.version if b.version else ''}]")
        lines = _log(b) or _summary(b)
        for line in lines:
            print(f"  {clean(line)}")
        said = b.verdict or b.error  # llama.cpp / Ollama: the verdict their own --engine output gives
        if said and not any(said in line for line in lines):  # not already in the engine's own log
            print(f"  -> {clean(said)}")
        if args.engine != "all":
            for a in b.notes:
                print(f"  - {clean(a)}")
    headers = ["engine", "version", "weights as", "weights", "KV cache", "activations", "other", "total GiB",
               "KV tokens", f"requests of {workload.context_tokens:,}", "fits"]  # fmt: skip
    print()
    print(table(headers, [_row(b) for b in results.values()], right=(3, 4, 5, 6, 7, 8, 9)))
    formats = {b.weights_format for b in results.values() if b.estimated and b.weights_format}
    if len(formats) > 1:
        print(
            f"note: the engines hold the weights in different formats ({', '.join(sorted(formats))}): compare with care"
        )
    if args.engine == "all":
        serving = [name for name, b in results.items() if b.estimated and b.fits]
        print(f"serves it: {', '.join(serving)}" if serving else "no engine serves this workload on this GPU")
    return _status(results, args.engine)


def _context_default(args: argparse.Namespace, model: Model, given: dict[str, Any], field: str) -> dict[str, Any]:
    """The engine's request-length setting (``field``) from ``--context`` when that was given and the
    engine's own option was not; a context beyond the model's maximum leaves the engine's default."""
    if field in given or "--context" not in set(getattr(args, "given", ())):
        return given
    arch = model.architecture
    if arch is None or args.context > arch.max_context:
        return given
    return {**given, field: args.context}


def _from_context(args: argparse.Namespace, settings: EngineSettings, engine: str) -> bool:
    """Whether ``engine``'s request length was taken from ``--context`` (:func:`_context_default`)."""
    flag = "--max-model-len" if engine == "vllm" else "--context-length"
    given = set(getattr(args, "given", ()))
    return "--context" in given and flag not in given and getattr(settings, flag[2:].replace("-", "_")) is not None


def compatibility_notes(model: Model, gpu: GPU, workload: Inference, engines: tuple[str, ...]) -> list[str]:
    """How an engine runs the chosen weights another way on ``gpu`` (FP8 weight-only through Marlin on
    Ampere); the engines themselves warn when they cannot run them (engines.dispatch.engine_compatibility)."""
    out = []
    for engine in engines:
        verdict = engine_compatibility(model, gpu, engine, workload)
        if verdict is not None and verdict.ok and "weight-only" in verdict.reason:
            out.append(f"{engine} on the {gpu.name} runs the weights as {verdict.reason}")
    return out


def _status(results: dict[str, EngineBreakdown], engine: str) -> int:
    """The exit status: one engine, 0 when it runs the workload, else 1; ``all``, 0 when at least one
    engine that could answer runs it, 1 when none does (engines that could not answer are left out)."""
    answered = [b for b in results.values() if b.estimated]
    return 0 if any(b.fits for b in answered) else 1


def _summary(b: EngineBreakdown) -> list[str]:
    """One line of figures for an engine that prints no start-up log of its own (transformers)."""
    if not b.estimated:
        return []
    return [
        f"weights {_gib(b.weights_bytes)} GiB ({b.weights_format}), KV cache {_gib(b.kv_cache_bytes)} GiB,"
        f" activations {_gib(b.activation_bytes)} GiB, other {_gib(b.other_bytes)} GiB"
    ]


def _log(b: EngineBreakdown) -> list[str]:
    lines = getattr(b.detail, "log_lines", None)
    return list(lines()) if callable(lines) else []
