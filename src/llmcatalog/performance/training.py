"""Training time: FLOPs per token, step time at a model-FLOPs utilisation, epochs, GPU-hours, cost.

**FLOPs per token.** The forward pass costs ``F = 2 * N + 4 * L * d_attn * s`` per token: two
FLOPs per multiply-add over the ``N`` matmul parameters a token passes through (active
parameters without the embedding gather, LM head included; Kaplan et al. 2020, arXiv 2001.08361,
section 2.1) plus the attention scores and weighted values over ``s`` positions in each of ``L``
attention layers of query width ``d_attn = n_heads * head_dim`` (PaLM, Chowdhery et al. 2022,
arXiv 2204.02311, appendix B, whose training count is ``6N + 12 L H Q T``; like PaLM it counts
the whole sequence, not the causal half). Sliding-window layers attend to at most the window. The backward pass
has two halves (Megatron-LM, Narayanan et al. 2021, arXiv 2104.04473, section 5.1):

- gradients with respect to activations, ``F`` again plus the attention term once more (the
  scores' and values' backward has two operands to differentiate and no weights), so that the
  whole step is PaLM's ``3 * 4 L H Q T``; needed down to the first trainable layer;
- gradients with respect to weights, ``2 * N_trainable``, only for what is trained.

So full training costs ``3F`` (the familiar ``6N``); LoRA, prefix tuning and P-Tuning v2 cost
``2F + 2 N_trainable`` plus the adapters' own forward; freeze tuning propagates activation
gradients only through its trained layers. **Gradient checkpointing** recomputes the forward in
the backward pass: ``+F`` (``8N`` for full training; Narayanan et al., eq. 3's factor 4 vs 3).

**Offload** (DeepSpeed ZeRO-Offload/ZeRO-Infinity, FSDP ``CPUOffload``) moves tensors over each GPU's
host link every step (Ren et al. 2021, ZeRO-Offload, arXiv 2101.06840, section 4: the fp16 gradients
down and the updated fp16 parameters back up, each GPU its 1/dp shard; with offloaded parameters,
ZeRO-Infinity, Rajbhandari et al. 2021, arXiv 2104.07857, every forward, backward and recompute pass
brings each GPU's parameter shard up again before the all-gather). The step then takes at least
``max(compute, transfer)`` (both overlapped perfectly), with ``transfer`` the larger direction's bytes
over the PCIe x16 rate (:func:`.hardware.host_link_bytes_s`). An offloaded optimizer then steps on
the CPU, after the backward pass: each process updates its ``trainable / dp`` parameters at
:data:`CPU_ADAM_PARAMS_PER_S` (the fast end of what users report for DeepSpeedCPUAdam; hosts report
down to :data:`CPU_ADAM_SLOW_PARAMS_PER_S`, and torch's CPU AdamW under FSDP is slower still), added
to the step. NVMe bandwidth is not modelled. The figure is therefore a lower bound on the step time,
and the assumptions give the range a slow host reaches.

**Communication** between GPUs (gradient all-reduce or reduce-scatter, ZeRO-3/FSDP parameter
all-gathers, tensor-parallel all-reduces) is assumed overlapped with compute and is not counted: the
MFU stands for it (the assumptions say so), so ZeRO-2 and ZeRO-3 give one speed.

**Time.** ``step_s = flops_per_step / (n_gpus * mfu * peak)``, with ``peak`` the GPU's dense
tensor throughput for the compute dtype (:func:`.hardware.peak_flops`) and ``mfu`` the model-FLOPs
utilisation. :data:`DEFAULT_MFU` = 0.3 is the utilisation large dense training runs report
(PaLM table 3: GPT-3 21.3%, Gopher 32.5%, Megatron-Turing NLG 30.2%, PaLM 46.2%); small
single-GPU fine-tunes with 8-bit weights reach less (``docs/speed.md`` shows the survey's
three runs imply 10-35%). Time per epoch = tokens per epoch x FLOPs per token / throughput.
"""

from __future__ import annotations

import math

import attrs

from ..errors import WorkloadError
from ..memory.estimate import _arch_of
from ..memory.params import count_params, param_breakdown
from ..memory.training import _plan, _shape
from ..values.gpu import GPU
from ..values.model import Architecture, Model
from ..values.workload import FineTune
from ._fit import warn_if_no_fit
from .hardware import host_link_bytes_s, peak_flops

__all__ = [
    "CPU_ADAM_PARAMS_PER_S",
    "CPU_ADAM_SLOW_PARAMS_PER_S",
    "DEFAULT_MFU",
    "OffloadTransfer",
    "TrainingFlops",
    "TrainingTime",
    "offload_transfer",
    "training_flops_per_token",
    "training_time",
]

#: Default model-FLOPs utilisation (PaLM, arXiv 2204.02311, table 3: 21-46% for large runs).
DEFAULT_MFU = 0.3
#: Parameters per second one process's DeepSpeedCPUAdam updates, the fast end of user reports:
#: Llama-2 1.2B on one GPU, 1.5 s of Adam per step (deepspeedai/DeepSpeed issue 6695, 2024); Qwen2.5-3B
#: on 2 x A100-40GB, 2.4-3.1 s per whole step on a 128-core host (DeepSpeed PR 7474, 2025): 0.8e9/s.
CPU_ADAM_PARAMS_PER_S = 0.8e9
#: The slow end: a 1.35B model on a 10-core Xeon Silver, 21.8 s of optimizer update per step
#: (deepspeedai/DeepSpeed issue 1635, 2021): 0.06e9/s.
CPU_ADAM_SLOW_PARAMS_PER_S = 0.06e9


@attrs.frozen(kw_only=True)
class TrainingFlops:
    """FLOPs one training token costs, by pass."""

    forward: float
    backward_activations: float
    backward_weights: float
    recompute: float
    trainable_params: int

    @property
    def total(self) -> float:
        return self.forward + self.backward_activations + self.backward_weights + self.recompute


@attrs.frozen(kw_only=True)
class TrainingTime:
    """Wall-clock time, GPU-hours and cost of a training run."""

    seconds: float
    seconds_per_epoch: float
    step_s: float
    steps: float
    epochs: float
    tokens: float  # over all epochs
    flops: float  # over all epochs
    flops_per_token: float
    n_gpus: int
    mfu: float
    gpu_hours: float
    cost: float | None
    assumptions: tuple[str, ...] = ()

    @property
    def hours(self) -> float:
        return self.seconds / 3600


def training_flops_per_token(model: Model | Architecture, workload: FineTune) -> TrainingFlops:
    """FLOPs per trained token of ``workload`` on ``model`` (formulas in the module docstring)."""
    if not isinstance(workload, FineTune):
        raise TypeError(f"expected a llmcatalog.FineTune workload, got {type(workload).__name__}")
    arch, _extra, _name = _arch_of(model)
    pb = param_breakdown(arch)
    head = arch.vocab_size * arch.hidden_size
    matmul = pb.active - pb.embedding - pb.position - pb.norms - pb.lm_head + head
    s = workload.seq_len
    width = arch.n_heads * (arch.head_dim + (arch.v_head_dim or arch.head_dim)) / 2
    span = arch.count_layers("full") * s + arch.count_layers("sliding") * min(s, arch.sliding_window or s)
    attention = 4 * width * span
    trainable = _plan(arch, _shape(workload)).trainable
    forward: float
    act: float
    weights: float
    if workload.method == "full":
        forward = 2 * matmul + attention
        act, weights = forward + attention, 2 * matmul
    else:
        adapters = 2 * trainable if workload.method in ("lora", "qlora") else 0
        forward = 2 * matmul + attention + adapters
        depth = min(workload.trainable_layers, arch.n_layers) / arch.n_layers if workload.method == "freeze" else 1.0
        act, weights = (forward + attention) * depth, 2 * min(trainable, matmul)
    recompute = forward if workload.checkpointing else 0.0
    return TrainingFlops(
        forward=float(forward),
        backward_activations=float(act),
        backward_weights=float(weights),
        recompute=float(recompute),
        trainable_params=trainable,
    )


def _positive(name: str, value: float | None, *, zero: bool = False) -> None:
    if value is None:
        return
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
    if not ok or not (value >= 0 if zero else value > 0):
        raise ValueError(f"'{name}' must be a finite {'non-negative' if zero else 'positive'} number, got {value!r}")


def training_time(
    model: Model | Architecture,
    gpu: GPU,
    workload: FineTune,
    *,
    tokens: float | None = None,
    samples: float | None = None,
    tokens_per_sample: float | None = None,
    epochs: float = 1,
    mfu: float = DEFAULT_MFU,
    price_per_gpu_hour: float | None = None,
    tflops: float | None = None,
    pipeline_microbatches: int | None = None,
) -> TrainingTime:
    """Time of ``epochs`` passes over a data set of ``tokens`` tokens, or of ``samples`` samples
    of ``tokens_per_sample`` tokens each (default ``workload.seq_len``, padded batches; at most
    ``seq_len``, else WorkloadError: a trainer truncates or packs samples to ``seq_len``), on
    ``workload.parallelism.n_gpus`` GPUs like ``gpu`` at utilisation ``mfu``.
    ``price_per_gpu_hour`` gives ``cost`` (same currency); ``tflops`` overrides the datasheet.
    A step is ``batch_size`` sequences per data-parallel rank; the attention term of the FLOPs
    uses ``workload.seq_len`` (set it to the mean length for dynamically padded batches).

    Pipeline stages (``parallelism.pipeline_parallel`` = p > 1) with ``pipeline_microbatches`` = m
    run a GPipe/1F1B schedule at efficiency ``m / (m + p - 1)`` (the bubble; Narayanan et al. 2021,
    section 2.2); left ``None``, the stages compute one after another (``device_map="auto"``
    model parallelism in transformers), so only one stage's GPUs work at a time."""
    _positive("epochs", epochs)
    _positive("tokens", tokens)
    _positive("samples", samples)
    _positive("tokens_per_sample", tokens_per_sample)
    _positive("price_per_gpu_hour", price_per_gpu_hour, zero=True)
    if not isinstance(gpu, GPU):
        raise TypeError(f"expected a llmcatalog.GPU, got {type(gpu).__name__}")
    if isinstance(mfu, bool) or not isinstance(mfu, (int, float)) or not 0 < mfu <= 1:
        raise ValueError(f"'mfu' must be a fraction in (0, 1], got {mfu!r}")
    if (tokens is None) == (samples is None):
        raise ValueError(
            "give either tokens= (per epoch) or samples= (per epoch, with tokens_per_sample=), not both or neither"
        )
    if tokens_per_sample is not None and tokens_per_sample > workload.seq_len:
        # A trainer cuts (truncation) or packs samples into sequences of seq_len tokens: a longer sample is
        # not one sequence, and the step, the attention FLOPs and the memory are those of seq_len.
        raise WorkloadError(
            f"tokens_per_sample={tokens_per_sample:g} exceeds the workload's seq_len={workload.seq_len}: samples are "
            "truncated or packed to seq_len tokens; give seq_len >= tokens_per_sample (if the samples really are "
            "that long), or tokens= (the data set's total tokens) with the seq_len you train at"
        )
    if tokens is None:
        assert samples is not None
        tokens = samples * (tokens_per_sample or workload.seq_len)
    elif tokens_per_sample is not None:
        raise ValueError("tokens_per_sample goes with samples=, not with tokens=")
    fl = training_flops_per_token(model, workload)
    p = workload.parallelism
    n = p.n_gpus
    peak = peak_flops(gpu, workload.precision, tflops=tflops, why="the training time")
    warn_if_no_fit(model, gpu, workload, "training time")
    pp = p.pipeline_parallel
    if pipeline_microbatches is not None and (
        isinstance(pipeline_microbatches, bool)
        or not isinstance(pipeline_microbatches, int)
        or pipeline_microbatches < 1
    ):
        raise ValueError(f"'pipeline_microbatches' must be a positive integer, got {pipeline_microbatches!r}")
    pipe = 1 / pp if pipeline_microbatches is None else pipeline_microbatches / (pipeline_microbatches + pp - 1)
    throughput = n * pipe * mfu * peak
    # A step is batch_size sequences on each data-parallel rank: of seq_len tokens when tokens= is
    # given, of tokens_per_sample when samples= is (dynamically padded batches).
    sequences = workload.batch_size * p.data_parallel
    per_sequence = tokens / samples if samples is not None else workload.seq_len
    step_tokens = sequences * per_sequence
    step_s = step_tokens * fl.total / throughput
    offload = offload_transfer(model, gpu, workload, fl.trainable_params)
    if offload is not None:
        step_s = max(step_s, offload.seconds) + offload.cpu_optimizer_s
    steps = tokens * epochs / step_tokens
    per_epoch = steps / epochs * step_s
    seconds = per_epoch * epochs
    gpu_hours = seconds * n / 3600
    return TrainingTime(
        seconds=seconds,
        seconds_per_epoch=per_epoch,
        step_s=step_s,
        steps=steps,
        epochs=float(epochs),
        tokens=tokens * epochs,
        flops=tokens * epochs * fl.total,
        flops_per_token=fl.total,
        n_gpus=n,
        mfu=float(mfu),
        gpu_hours=gpu_hours,
        cost=None if price_per_gpu_hour is None else gpu_hours * price_per_gpu_hour,
        assumptions=(
            f"{fl.total / 1e9:.1f} GFLOPs per token ({workload.method}"
            f"{', gradient checkpointing' if workload.checkpointing else ''})",
            f"{n} x {gpu.name} at {mfu:.0%} of {peak / 1e12:g} TFLOPS ({workload.precision})",
            *(() if offload is None else (offload.text,)),
            *(
                (
                    "communication (gradient all-reduce / reduce-scatter, ZeRO-3 and FSDP parameter all-gathers, "
                    "tensor-parallel all-reduces) is assumed hidden behind compute: not counted, so ZeRO-2 and "
                    "ZeRO-3 give one speed",
                )
                if n > 1
                else ()
            ),
        ),
    )


@attrs.frozen(kw_only=True)
class OffloadTransfer:
    """Bytes each GPU moves over its host link per optimizer step, by direction, and the time at the
    link's rate (None: the GPU's interconnect names no PCIe link); ``text`` says so in words."""

    to_gpu_bytes: float
    to_host_bytes: float
    link_bytes_s: float | None
    text: str
    #: The CPU optimizer step per process at :data:`CPU_ADAM_PARAMS_PER_S` (0 without optimizer offload).
    cpu_optimizer_s: float = 0.0

    @property
    def seconds(self) -> float:
        if self.link_bytes_s is None:
            return 0.0
        return max(self.to_gpu_bytes, self.to_host_bytes) / self.link_bytes_s


def offload_transfer(
    model: Model | Architecture, gpu: GPU, workload: FineTune, trainable: int | None = None
) -> OffloadTransfer | None:
    """What a step of ``workload`` moves between each GPU and the host when it offloads (module
    docstring, "Offload"), or None without offload. Per GPU, with ``dp`` data-parallel ranks and
    ``e`` bytes per element of the compute dtype: optimizer offload sends the gradient shard down
    and the updated parameter shard up (``trainable * e / dp`` each); parameter offload brings the
    parameter shard up once per forward, backward and recompute pass (``n_params * e / dp`` each)."""
    p = workload.parallelism
    if not (p.offload_optimizer or p.offload_params):
        return None
    arch, _extra, _name = _arch_of(model)
    if trainable is None:
        trainable = training_flops_per_token(model, workload).trainable_params
    e = 4 if workload.precision == "fp32" else 2
    dp = p.data_parallel if p.shard_stage >= 1 else 1
    up = down = 0.0
    if p.offload_optimizer:
        down += trainable * e / dp
        up += trainable * e / dp
    passes = 0
    if p.offload_params:
        passes = 3 if workload.checkpointing else 2
        up += passes * count_params(arch) * e / dp
    cpu_params = trainable / dp if p.offload_optimizer else 0.0
    link = host_link_bytes_s(gpu)
    nvme = "nvme" in (
        p.offload_optimizer_device if p.offload_optimizer else "",
        p.offload_params_device if p.offload_params else "",
    )
    what = " + ".join(
        w
        for w, on in (
            ("optimizer (gradients down, parameters up)", p.offload_optimizer),
            (f"parameters ({passes} passes up)", p.offload_params),
        )
        if on
    )
    moved = f"{up / 1e9:.2f} GB up, {down / 1e9:.2f} GB down per GPU per step"
    if link is None:
        text = f"offload of {what}: {moved}; {gpu.name} names no PCIe link, so the transfer time is not counted"
    else:
        text = (
            f"offload of {what}: {moved}, at least {max(up, down) / link:.2f} s at the PCIe x16 rate "
            f"({link / 1e9:g} GB/s each way, overlapped with compute at best)"
        )
    if cpu_params:
        fast, slow = cpu_params / CPU_ADAM_PARAMS_PER_S, cpu_params / CPU_ADAM_SLOW_PARAMS_PER_S
        text += (
            f"; then the CPU optimizer updates {cpu_params / 1e9:.2f}B parameters per process: {fast:.2f} s added"
            f" (a fast host, one or two processes per host; slow hosts report up to {slow:.0f} s)"
        )
    if nvme:
        text += "; NVMe bandwidth not modelled"
    return OffloadTransfer(
        to_gpu_bytes=up,
        to_host_bytes=down,
        link_bytes_s=link,
        text=text,
        cpu_optimizer_s=cpu_params / CPU_ADAM_PARAMS_PER_S,
    )
