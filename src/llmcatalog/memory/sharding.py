"""Sharded training and multi-process runs: the buffers DeepSpeed ZeRO and PyTorch FSDP allocate, and the
per-rank communication buffers of NCCL. Pure functions over numbers; ``memory/training.py`` and
``memory/estimate.py`` call them. Formulas and sources are collected in ``docs/sharding.md``.

**DeepSpeed ZeRO stages 1-2** (``deepspeed/runtime/zero/stage_1_and_2.py``). Gradients are reduced through
the "ipg" bucket of ``reduce_bucket_size`` elements in the 16-bit dtype (with ``contiguous_gradients`` a
persistent buffer; a second one with ``overlap_comm``), and the updated 16-bit partitions are all-gathered
in ``allgather_bucket_size`` chunks. Without ``overlap_comm`` that is one bucket of each. With it, the
Hugging Face DeepSpeed guide (``transformers`` docs, "ZeRO-2 config": "overlap_comm uses 4.5x the
allgather_bucket_size and reduce_bucket_size values", 9 GB at 5e8 elements each) is the documented
footprint, which we use: ``4.5 * (A + R) * e``.

**DeepSpeed ZeRO-3** (``stage3.py``, ``partition_parameters.py``, ``partitioned_param_coordinator.py``).
Parameters are gathered module by module in the 16-bit dtype; the coordinator prefetches up to
``stage3_prefetch_bucket_size`` elements ahead, keeps parameters whose next use is within
``stage3_max_reuse_distance`` elements gathered (the last layers' between forward and backward), and
releases when more than ``stage3_max_live_parameters`` are live. Live gathered elements:
``min(total, largest module + max(prefetch, min(max_live, max_reuse)))``. Parameters under
``stage3_param_persistence_threshold`` elements (norms, biases) stay whole on every rank. Gradients are
reduced through one flat ipg buffer of ``reduce_bucket_size`` elements and
``reduce_scatter_coalesced`` (``runtime/comm/coalesced_collectives.py``) flattens the bucket once more:
``2 * R * e``. The rank's gradient partition (``grad_partitions_flat_buffer``, ``P/N`` elements in the
model dtype) is allocated at start-up and held through forward and backward -- on the GPU, or in pinned
CPU memory with ``offload_optimizer`` (``memory/training.py`` counts it).
The optimizer steps one ``sub_group_size`` group of the fp32 partition at a time, so the
fp32 gradient copy it steps with is ``min(sub_group_size, partition)`` elements.

Both keep fp32 master partitions and fp32 optimizer states (``single_partition_of_fp32_groups`` /
``fp32_partitioned_groups_flat``: a clone even when the model is already fp32).

**FSDP** (``torch/distributed/fsdp``; FSDP1 ``_runtime_utils.py`` / ``_flat_param.py``, FSDP2
``_fully_shard/_fsdp_param_group.py``). A wrapped unit (one decoder layer by default,
``transformer_auto_wrap_policy``) is all-gathered for its forward and backward; backward prefetch
(``BACKWARD_PRE``, FSDP1's default; FSDP2 prefetches one unit) holds the next unit too, and the unit's
unsharded gradient lives until its reduce-scatter: ``2 * unit * param_dtype + unit * reduce_dtype``.
With a ``MixedPrecision`` policy the sharded parameters stay in their own dtype (fp32 for an fp32
model) and are gathered in ``param_dtype``; no autocast runs, so no autocast weight copies exist.
FSDP1 with ``use_orig_params=True`` gives a whole flat parameter a gradient when any parameter in it
trains (the FSDP docstring: mixing frozen and trained parameters in one unit costs gradient memory "as
if not frozen"), and under ``no_sync()`` gradients accumulate unsharded (the ``no_sync`` docstring).
torch 2.0's ``_default_to_fused_or_foreach`` accepts only ``Tensor``/``Parameter`` types, which
FSDP1's ``FlatParameter`` is not, so AdamW runs its for-loop step: no foreach temporaries.

**NCCL** (NCCL docs, "Environment Variables": ``NCCL_BUFFSIZE`` default 4 MiB per channel and peer
for the Simple protocol; NCCL's ``src/include/device.h`` sizes the other two protocols' buffers:
``DEFAULT_LL128_BUFFSIZE`` 120*640*8*8 = 4,915,200 bytes, ``DEFAULT_LL_BUFFSIZE`` 8*512*8*16 = 512 KiB).
A communicator allocates its buffers for each channel and each peer it connects to (ring: 2 peers;
tree: up to 3; NVLS/P2P on NVSwitch machines more), lazily on first use. :func:`nccl_buffer_bytes`
counts ``channels * peers * (Simple + LL128 + LL)`` per communicator a rank joins, plus NCCL's proxy
and device work buffers, calibrated on the published nvidia-smi figure of Llama-2-70B at
tensor_parallel=8 on A100-40GB (``tests/data/sharded_runs.csv``).
"""

from __future__ import annotations

import math

from ..values.workload import Parallelism

__all__ = [
    "NCCL_CONNECTION_BYTES",
    "NCCL_FIXED_BYTES",
    "OVERLAP_COMM_FACTOR",
    "deepspeed_buffer_bytes",
    "fsdp_buffer_bytes",
    "nccl_buffer_bytes",
    "resolve_buckets",
]

#: The Hugging Face guide's footprint of ``overlap_comm`` at stages 1-2, in bucket sizes.
OVERLAP_COMM_FACTOR = 4.5
#: One NCCL connection on one channel: Simple (``NCCL_BUFFSIZE``, 4 MiB) + LL128 (4,915,200 B) + LL (512 KiB).
NCCL_CONNECTION_BYTES = 4 * 2**20 + 4_915_200 + 512 * 2**10
#: Channels NCCL opens on NVLink/NVSwitch systems for a collective (``NCCL_MAX_NCHANNELS`` caps it; A100
#: and H100 NVSwitch machines report 16-32 in ``NCCL_DEBUG=INFO`` logs).
NCCL_CHANNELS = 16
#: Peers per channel a rank's ring and tree connect to (ring previous/next, tree parent and children).
NCCL_PEERS = 4
#: Per communicator: proxy FIFOs, device work queues and the P2P/NVLS registration buffers (calibrated, see
#: the module docstring).
NCCL_FIXED_BYTES = 1280 * 2**20


def resolve_buckets(p: Parallelism, hidden_size: int) -> tuple[int, int, int]:
    """(reduce bucket, stage-3 prefetch bucket, persistence threshold) in elements, with the Hugging Face
    integration's ``"auto"`` (``None``) filled from ``hidden_size``: ``h*h``, ``int(0.9*h*h)``, ``10*h``
    (``transformers/integrations/deepspeed.py``, ``trainer_config_finalize``)."""
    h2 = hidden_size * hidden_size
    reduce = p.reduce_bucket_size if p.reduce_bucket_size is not None else h2
    prefetch = p.prefetch_bucket_size if p.prefetch_bucket_size is not None else int(0.9 * h2)
    persist = p.param_persistence_threshold if p.param_persistence_threshold is not None else 10 * hidden_size
    return reduce, prefetch, persist


def deepspeed_buffer_bytes(
    p: Parallelism,
    *,
    hidden_size: int,
    total_params: int,
    trainable_params: int,
    largest_module_params: int,
    compute_bytes: float,
    small_params: int = 0,
) -> int:
    """Bucket and gather buffers of DeepSpeed ZeRO per GPU (module docstring), in bytes.

    ``total_params`` / ``largest_module_params``: what stage 3 gathers (the model / its largest module,
    the LM head or embeddings on most models); buckets hold gradients or updated parameters of the
    ``trainable_params`` only, so none is larger than that. ``small_params``: the elements of tensors
    smaller than any sensible persistence threshold yet larger than ``hidden_size`` never (norm weights):
    at stage 3 they stay whole on every rank when ``param_persistence_threshold`` exceeds ``hidden_size``.
    ``contiguous_gradients`` decides whether the reduce bucket is one persistent buffer or flattened at
    each reduction; the peak holds one bucket either way (it changes fragmentation, not this count).
    """
    stage = p.zero_stage
    if stage == 0:
        return 0
    e = compute_bytes
    reduce, prefetch, persist = resolve_buckets(p, hidden_size)
    reduce = min(reduce, trainable_params)
    if stage == 3:
        persistent = small_params if persist > hidden_size else 0
        live = min(max(p.max_live_parameters, 0), p.max_reuse_distance)
        gathered = min(total_params, largest_module_params + max(prefetch, live))
        if p.offload_params:
            gathered = min(total_params, largest_module_params + prefetch)
        return math.ceil(e * (gathered + 2 * reduce + persistent))
    allgather = min(p.allgather_bucket_size, trainable_params)
    factor = OVERLAP_COMM_FACTOR if p.overlap_comm_in_effect else 1.0
    return math.ceil(factor * e * (allgather + reduce))


def fsdp_buffer_bytes(
    p: Parallelism, *, layer_params: float, param_bytes: float, grad_bytes: float, trains_layers: bool
) -> int:
    """Gathered units of FSDP per GPU (module docstring): the unit being computed and the prefetched one
    in the gather dtype, plus the unit's unsharded gradient while it waits for its reduce-scatter.

    ``layer_params``: parameters of one decoder layer; ``param_bytes``: the gather dtype (``param_dtype``
    of the policy, else the parameters' own); ``grad_bytes``: the unsharded gradient's dtype.
    Shard-grad-op keeps every unit gathered from forward to backward: its parameters are counted whole by
    the caller, so only the gradient of one unit is added here.
    """
    if p.fsdp == "none":
        return 0
    unit = layer_params * p.fsdp_layers_per_unit
    grad = unit * grad_bytes if trains_layers else 0.0
    if p.shard_stage < 3:
        return math.ceil(grad)
    return math.ceil(2 * unit * param_bytes + grad)


def nccl_buffer_bytes(*, data_parallel: int = 1, tensor_parallel: int = 1, pipeline_parallel: int = 1) -> int:
    """NCCL buffers one rank holds for the communicators of a job (module docstring), in bytes.

    One communicator per parallel dimension larger than 1 (data, tensor, pipeline; a single-GPU job
    has none). Pipeline stages talk point to point with 2 neighbours on 1-2 channels.
    """
    total = 0
    per_collective = NCCL_CHANNELS * NCCL_PEERS * NCCL_CONNECTION_BYTES + NCCL_FIXED_BYTES
    if data_parallel > 1:
        total += per_collective
    if tensor_parallel > 1:
        total += per_collective
    if pipeline_parallel > 1:
        total += 2 * 2 * NCCL_CONNECTION_BYTES + NCCL_FIXED_BYTES // 4
    return total
