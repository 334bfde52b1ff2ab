"""Which weight formats and compute dtypes a GPU can run, per engine: :func:`supports`.

The rules, and where they come from:

- **bf16** needs bfloat16 tensor cores: NVIDIA compute capability >= 8.0 (Ampere). On Volta (7.0) and
  Turing (7.5) vLLM refuses ``dtype=bfloat16`` and PyTorch only emulates it (slowly:
  ``torch.cuda.is_bf16_supported()`` counts emulation, so transformers' Trainer accepts ``bf16=True``
  there); run fp16 there. The reason names only the engine asked (transformers by default).
  (NVIDIA Transformer Engine support matrix: "BF16 requires compute capability 8.0 or higher",
  https://nvidia.github.io/TransformerEngine/support_matrix.html.) AMD CDNA 2/3/4 and RDNA 3, Apple
  (MPS, macOS 14+), Gaudi and Ascend have bf16.
- **FP8** weights run natively (W8A8, FP8 tensor cores) on NVIDIA compute capability >= 8.9 (Ada,
  Hopper, Blackwell) and AMD MI300-class (CDNA 3, gfx942) and later (vLLM quantization "Supported
  Hardware" table, https://docs.vllm.ai/en/latest/features/quantization/supported_hardware.html:
  FP8 W8A8 on Ada, Hopper and AMD GPUs). transformers below 8.9 does not run them: its
  ``FineGrainedFP8`` quantizer (``quantizers/quantizer_finegrained_fp8.py``, transformers 5.x)
  dequantizes the checkpoint to bf16 instead, so the weights take twice the memory, and it does the
  same without a CUDA/XPU device (Apple, Gaudi). vLLM (and SGLang, which uses the same kernels) runs
  FP8 checkpoints weight-only (W8A16) through FP8 Marlin on Ampere (the table's "Marlin
  (GPTQ/AWQ/FP8)" row: Ampere, Ada, Hopper; newer vLLM FP8 docs extend it to Turing, not followed
  here). Gaudi runs FP8 in vLLM through Intel Neural Compressor (the table's INC row).
- **AWQ** needs compute capability >= 7.5 (vLLM table: not Volta; AutoAWQ README: "Compute
  Capability 7.5 (sm75)"); **GPTQ** runs from 7.0 (vLLM table); neither has an AMD, Gaudi, Ascend
  or Apple kernel in vLLM's table.
- **bitsandbytes** (LLM.int8, NF4/FP4): CUDA builds need compute capability >= 7.5 for LLM.int8 and
  >= 5.0 for 4-bit and 8-bit optimizers (bitsandbytes installation guide,
  https://huggingface.co/docs/bitsandbytes/main/installation); its multi-backend docs call the
  ROCm backend functional and Apple Silicon (Metal) only planned
  (https://huggingface.co/docs/bitsandbytes/main/non_cuda_backends); vLLM's table lists NVIDIA only.
- Apple GPUs: vLLM and SGLang have no Metal backend (vLLM on macOS is CPU-only), so no engine
  format is "supported" there; transformers runs fp16/bf16/fp32 on MPS (:func:`engine_runs`).
- **What runs instead** (:func:`runtime_format`): where transformers cannot run FP8 weights
  (NVIDIA below 8.9; no CUDA/XPU device: Apple, Gaudi, Ascend) it loads them dequantized to bf16
  (``quantizer_finegrained_fp8.py``, ``validate_environment``), so the memory is that of bf16 weights.
- **FP8 KV cache** (:func:`kv_cache_supports`; vLLM/SGLang ``--kv-cache-dtype fp8``): stored in FP8 and
  converted for the attention kernel, which vLLM's FlashAttention/FlashInfer backends do from Ampere
  (8.0) on (vllm-project/vllm#4827: an FP8 KV cache runs on an A10, the cache only compresses);
  on Turing and Volta vLLM falls to its Triton attention backend, which refuses an FP8 (e4m3) cache
  below 8.9 (vllm-project/vllm#47549 on SM 7.5, "native FP8 requires SM89+"; #26431 shows the same
  Triton error). AMD MI300-class (CDNA 3+) has FP8 (the vLLM quantized KV cache docs); Apple has no
  vLLM, and transformers' own quantized cache (quanto/HQQ, int2/int4) is a different thing, not FP8.

A GPU the catalog knows nothing about (a ``--gpu-memory`` card, an NVIDIA entry without
``compute_capability``) is assumed to be a CUDA GPU of compute capability
:data:`ASSUMED_CAPABILITY` (Ampere): formats needing more (native FP8) are not "supported", and every
answer says it rests on that assumption (``known`` False).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import attrs

from .gpu import GPU
from .precision import FORMATS, WeightFormat

__all__ = [
    "ASSUMED_CAPABILITY",
    "ENGINES",
    "Support",
    "engine_runs",
    "kv_cache_supports",
    "runtime_format",
    "runtime_name",
    "single_device",
    "supports",
]

#: Engines :func:`supports` knows rules for (``None`` is transformers; SGLang uses vLLM's quantization kernels).
ENGINES = ("transformers", "vllm", "sglang")
#: The compute capability assumed for a GPU of unknown kind: Ampere (8.0), the oldest generation with
#: bf16 and Marlin kernels. An assumption, not a measurement: every answer for such a GPU says so.
ASSUMED_CAPABILITY = (8, 0)

_COMPUTE_ONLY = ("fp32", "fp16", "bf16")
_AMD_FP8 = ("CDNA 3", "CDNA 4")  # MI300 (gfx942) and later: FP8 matrix cores


@attrs.frozen(kw_only=True)
class Support:
    """The answer of :func:`supports`: ``ok``, the reason in words, and whether it rests on known
    figures (``known`` False: an assumption about an unknown GPU, or a format without a rule).

    Unpacks as ``ok, reason = supports(...)`` and is truthy when ``ok``."""

    ok: bool
    reason: str
    known: bool = True

    def __iter__(self) -> Iterator[object]:
        return iter((self.ok, self.reason))

    def __bool__(self) -> bool:
        return self.ok


def _kind(fmt: str | WeightFormat) -> tuple[str, str]:
    """(rule key, display name) of a format or dtype name."""
    if isinstance(fmt, WeightFormat):
        if not fmt.quantized:
            return fmt.name, fmt.name
        key = fmt.method or fmt.name
        return key, fmt.name
    if fmt in _COMPUTE_ONLY:
        return fmt, fmt
    if fmt not in FORMATS:
        raise ValueError(f"format_or_dtype: unknown {fmt!r}; choose from {[*FORMATS]} or a WeightFormat")
    f = FORMATS[fmt]
    return (f.method or f.name if f.quantized else f.name), f.name


def _engine(engine: object) -> str:
    if engine is None:
        return "transformers"
    if not isinstance(engine, str) or engine not in ENGINES:
        raise ValueError(f"engine must be one of {list(ENGINES)} or None (transformers), got {engine!r}")
    return engine


def _family(gpu: GPU) -> str:
    vendor = gpu.vendor.lower()
    if vendor == "nvidia":
        return "nvidia"
    if vendor == "amd":
        return "amd"
    if vendor == "apple":
        return "apple"
    if "gaudi" in (gpu.architecture or "").lower() or "gaudi" in gpu.id:
        return "gaudi"
    if vendor == "huawei":
        return "ascend"
    return "unknown"


def supports(gpu: GPU, format_or_dtype: str | WeightFormat, engine: str | None = None) -> Support:
    """Whether ``gpu`` can run weights in ``format_or_dtype`` (a :data:`~llmcatalog.values.precision.FORMATS`
    name, a compute dtype ``fp32``/``fp16``/``bf16``, or a checkpoint's :class:`WeightFormat`) with
    ``engine`` (None: transformers; ``"vllm"``, ``"sglang"``), and why. Pure: the rules and their
    sources are in the module docstring. Formats without a rule (the idealised ``int8``/``int4``,
    MXFP4, NVFP4, GGUF types) answer ``ok`` with ``known`` False."""
    if not isinstance(gpu, GPU):
        raise TypeError(f"expected a llmcatalog.GPU, got {type(gpu).__name__}")
    if not isinstance(format_or_dtype, (str, WeightFormat)):
        raise TypeError(f"format_or_dtype must be a name or a WeightFormat, got {type(format_or_dtype).__name__}")
    _engine(engine)
    return _supports(gpu, format_or_dtype, engine)


@functools.lru_cache(maxsize=4096)  # planning asks the same few questions on every step of a search
def _supports(gpu: GPU, format_or_dtype: str | WeightFormat, engine: str | None) -> Support:
    key, name = _kind(format_or_dtype)
    eng = _engine(engine)
    family = _family(gpu)
    cc = gpu.capability or ASSUMED_CAPABILITY
    known = True
    if family == "unknown" or (family == "nvidia" and gpu.capability is None):
        family, known = "nvidia", False
    s = _rule(family, key, name, eng, cc, gpu)
    if not known:
        why = f"{gpu.name} is not a catalog GPU with a known compute capability: assumed {cc[0]}.{cc[1]} (Ampere)"
        return Support(ok=s.ok, reason=f"{s.reason} ({why})", known=False)
    return s


def _need(cc: tuple[int, int], minimum: tuple[int, int], what: str, gpu: GPU) -> Support:
    have = f"{cc[0]}.{cc[1]}"
    need = f"{minimum[0]}.{minimum[1]}"
    if cc >= minimum:
        return Support(ok=True, reason=f"{what}: compute capability {have} >= {need}")
    return Support(ok=False, reason=f"{what}: needs compute capability >= {need}; the {gpu.name} has {have}")


def _rule(family: str, key: str, name: str, eng: str, cc: tuple[int, int], gpu: GPU) -> Support:
    engine_word = "vLLM/SGLang" if eng != "transformers" else "transformers"
    if key in ("int8", "int4"):
        return Support(
            ok=True, reason=f"{name} is the idealised lower bound, not a kernel: nothing to check", known=False
        )
    if family == "apple":
        if eng != "transformers":
            return Support(ok=False, reason=f"{engine_word} has no Metal backend (on macOS it runs on the CPU only)")
        if key in _COMPUTE_ONLY:
            return Support(ok=True, reason=f"{name} runs on Apple GPUs through PyTorch's MPS backend")
        if key == "bitsandbytes":
            return Support(ok=False, reason="bitsandbytes has no Metal backend (Apple Silicon support is only planned)")
        if key == "fp8":
            return Support(
                ok=False,
                reason="MPS has no FP8 type: transformers dequantizes FP8 checkpoints to bf16 without a CUDA GPU",
            )
        if key in ("awq", "gptq"):
            return Support(ok=False, reason=f"no documented Metal kernel for {name} in transformers; use MLX or GGUF")
        return Support(ok=True, reason=f"no rule for {name} on Apple GPUs", known=False)
    if family in ("gaudi", "ascend"):
        label = "Gaudi" if family == "gaudi" else "Ascend"
        if key in _COMPUTE_ONLY:
            return Support(ok=True, reason=f"{name} runs on {label}")
        if family == "gaudi" and key == "fp8" and eng != "transformers":
            return Support(ok=True, reason="vLLM on Gaudi runs FP8 through Intel Neural Compressor")
        if key in ("fp8", "awq", "gptq", "bitsandbytes"):
            return Support(ok=False, reason=f"{name} is not documented for {label} with {engine_word}")
        return Support(ok=True, reason=f"no rule for {name} on {label}", known=False)
    if family == "amd":
        arch = gpu.architecture or ""
        if key in _COMPUTE_ONLY:
            return Support(ok=True, reason=f"{name} runs on ROCm")
        if key == "fp8":
            if arch in _AMD_FP8:
                return Support(ok=True, reason=f"{arch} has FP8 matrix cores (MI300-class, gfx942 and later)")
            return Support(
                ok=False, reason=f"FP8 needs an MI300-class GPU (CDNA 3+); the {gpu.name} is {arch or 'older'}"
            )
        if eng != "transformers" and key in ("awq", "gptq", "bitsandbytes"):
            return Support(ok=False, reason=f"vLLM's quantization table lists no AMD kernel for {name}")
        if key == "bitsandbytes":
            return Support(ok=True, reason="bitsandbytes' ROCm backend (multi-backend preview)")
        if key in ("awq", "gptq"):
            return Support(ok=False, reason=f"no documented ROCm kernel for {name} in transformers", known=False)
        return Support(ok=True, reason=f"no rule for {name} on AMD GPUs", known=False)
    # NVIDIA (or assumed so)
    if key in ("fp32", "fp16"):
        return Support(ok=True, reason=f"{name} runs on every CUDA GPU")
    if key == "bf16":
        s = _need(cc, (8, 0), "bf16 tensor cores", gpu)
        if not s.ok:
            if eng == "transformers":  # torch.cuda.is_bf16_supported() counts emulation: PyTorch takes it, slowly
                return Support(ok=False, reason=f"{s.reason}: PyTorch only emulates bf16 there (slowly); use fp16")
            return Support(ok=False, reason=f"{s.reason}: vLLM refuses dtype=bfloat16 there (SGLang too); use fp16")
        return s
    if key == "fp8":
        native = _need(cc, (8, 9), "FP8 tensor cores", gpu)
        if native.ok:
            return native
        if eng != "transformers":
            marlin = _need(cc, (8, 0), "weight-only FP8 (FP8 Marlin, W8A16)", gpu)
            if marlin.ok:
                return Support(ok=True, reason=f"{marlin.reason}; no FP8 tensor cores, so no FP8 compute")
            return Support(ok=False, reason=f"{native.reason}, and FP8 Marlin (weight-only) needs 8.0")
        return Support(
            ok=False,
            reason=f"{native.reason}: transformers dequantizes FP8 checkpoints to bf16 below 8.9 "
            "(weights take twice the memory); vLLM runs them weight-only from 8.0",
        )
    if key == "awq":
        return _need(cc, (7, 5), f"AWQ kernels ({engine_word})", gpu)
    if key == "gptq":
        return _need(cc, (7, 0), f"GPTQ kernels ({engine_word})", gpu)
    if key == "bitsandbytes":
        if name == "bnb-int8":
            return _need(cc, (7, 5), "bitsandbytes LLM.int8", gpu)
        return _need(cc, (5, 0), "bitsandbytes 4-bit", gpu)
    return Support(ok=True, reason=f"no rule for {name}", known=False)


def engine_runs(gpu: GPU, engine: str | None = None) -> Support:
    """Whether ``engine`` (None: transformers; ``"vllm"``, ``"sglang"``) runs on ``gpu`` at all: vLLM and
    SGLang have no Metal backend, so not on Apple GPUs (on macOS vLLM runs on the CPU only)."""
    if not isinstance(gpu, GPU):
        raise TypeError(f"expected a llmcatalog.GPU, got {type(gpu).__name__}")
    eng = _engine(engine)
    if eng != "transformers" and _family(gpu) == "apple":
        return Support(
            ok=False,
            reason=f"{eng} has no Metal backend: it cannot run on the {gpu.name} (on macOS it runs on the CPU)",
        )
    return Support(ok=True, reason=f"{eng} runs on the {gpu.name}")


def runtime_format(gpu: GPU, format_or_dtype: str | WeightFormat, engine: str | None = None) -> tuple[str, str] | None:
    """The weight format that actually runs when ``engine`` (None: transformers) loads ``format_or_dtype``
    on ``gpu`` in another, bigger form, and why; None when it runs as asked (or is refused outright).

    Today one rule: transformers dequantizes FP8 checkpoints to bf16 below compute capability 8.9 and
    without a CUDA/XPU device (Apple, Gaudi, Ascend): ``quantizer_finegrained_fp8.py``. Only known
    verdicts count: an unknown GPU's assumed capability does not change the memory."""
    if not isinstance(gpu, GPU):
        raise TypeError(f"expected a llmcatalog.GPU, got {type(gpu).__name__}")
    eng = _engine(engine)
    key, name = _kind(format_or_dtype)
    if eng != "transformers" or key != "fp8":
        return None
    family = _family(gpu)
    if family in ("apple", "gaudi", "ascend"):
        return "bf16", f"transformers dequantizes {name} weights to bf16 without a CUDA/XPU device"
    if family == "nvidia" and gpu.capability is not None and gpu.capability < (8, 9):
        cc = gpu.capability
        return "bf16", (
            f"transformers dequantizes {name} weights to bf16 below compute capability 8.9 "
            f"(the {gpu.name} has {cc[0]}.{cc[1]})"
        )
    return None


def kv_cache_supports(gpu: GPU, kv_dtype: str, engine: str | None = None) -> Support:
    """Whether a KV cache in ``kv_dtype`` runs on ``gpu``. Only ``"fp8"`` has a rule (an engine setting:
    vLLM/SGLang ``--kv-cache-dtype fp8``; sources in the module docstring); other dtypes answer ok."""
    if not isinstance(gpu, GPU):
        raise TypeError(f"expected a llmcatalog.GPU, got {type(gpu).__name__}")
    _engine(engine)
    if kv_dtype != "fp8":
        return Support(ok=True, reason=f"a {kv_dtype} KV cache has no kernel rule", known=kv_dtype != "int8")
    family = _family(gpu)
    what = "an FP8 KV cache (vLLM/SGLang --kv-cache-dtype fp8)"
    if family == "apple":
        return Support(
            ok=False,
            reason=f"{what} needs vLLM/SGLang, which have no Metal backend; transformers has no FP8 KV cache",
        )
    if family == "amd":
        arch = gpu.architecture or ""
        if arch in _AMD_FP8:
            return Support(ok=True, reason=f"{what}: {arch} has FP8 (MI300-class)")
        return Support(
            ok=False, reason=f"{what}: not documented for the {gpu.name} ({arch or 'pre-CDNA 3'})", known=False
        )
    if family in ("gaudi", "ascend"):
        return Support(ok=False, reason=f"{what}: not documented for the {gpu.name}", known=False)
    cc = gpu.capability
    if cc is None:
        return Support(ok=True, reason=f"{what}: {gpu.name} has no known compute capability; assumed 8.0", known=False)
    s = _need(cc, (8, 0), what, gpu)
    if not s.ok:
        return Support(
            ok=False,
            reason=f"{s.reason}: vLLM's attention backend there (Triton) refuses FP8 below 8.9; use a 16-bit cache",
        )
    return s


def runtime_name(gpu: GPU) -> str:
    """What the per-process runtime context is called on ``gpu``'s platform: "CUDA context" (NVIDIA and
    unknown cards), "ROCm/HIP context" (AMD), "Metal (MPS) context" (Apple), "HPU runtime" (Gaudi),
    "CANN (NPU) runtime" (Ascend). The memory model's size for it was measured on CUDA."""
    return {
        "amd": "ROCm/HIP context",
        "apple": "Metal (MPS) context",
        "gaudi": "HPU runtime",
        "ascend": "CANN (NPU) runtime",
    }.get(_family(gpu), "CUDA context")


def single_device(gpu: GPU) -> bool:
    """Whether a machine holds only one such GPU: Apple silicon (one GPU per SoC; PyTorch exposes a
    single ``mps`` device), so splitting a model over several of them (pipeline stages, tensor
    parallelism) is not an option."""
    return _family(gpu) == "apple"
