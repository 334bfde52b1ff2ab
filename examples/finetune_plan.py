"""Which fine-tuning method fits which GPU? A planning table for one model.

    python examples/finetune_plan.py [MODEL] [GPU ...]

For each method (full with ZeRO-3, LoRA, QLoRA, P-Tuning v2) it prints the per-GPU estimate on
one card and the fewest cards of each kind that hold the job (data parallel; full fine-tuning
shards with ZeRO-3, the others replicate, so more cards do not help them).
"""

from __future__ import annotations

import sys

import attrs

import llmcatalog as lc

METHODS = {
    "full (ZeRO-3)": lc.FineTune(method="full", seq_len=2048, gradient_checkpointing=True),
    "LoRA r=8 q/v": lc.FineTune(method="lora", seq_len=2048, gradient_checkpointing=True),
    "QLoRA all-linear": lc.FineTune(
        method="qlora", lora_rank=64, lora_targets=("all-linear",), seq_len=2048, gradient_checkpointing=True
    ),
    "P-Tuning v2": lc.FineTune(method="p-tuning-v2", prefix_tokens=128, seq_len=2048, gradient_checkpointing=True),
}


def with_zero3(w: lc.FineTune, n: int) -> lc.FineTune:
    return attrs.evolve(w, parallelism=lc.Parallelism(data_parallel=n, zero_stage=3))


def main(argv: list[str]) -> int:
    model = lc.get_model(argv[0] if argv else "Qwen-7B-Chat")
    gpus = [lc.get_gpu(name) for name in (argv[1:] or ["RTX 4090", "A100 80GB"])]
    print(f"{model.name}: {model.n_params / 1e9:.2f}B parameters, micro-batch 1 x 2048 tokens, checkpointing on\n")
    header = f"{'method':<18}{'1 GPU (GiB)':>12}" + "".join(f"{g.name[:26]:>28}" for g in gpus)
    print(header)
    for label, w in METHODS.items():
        one = lc.estimate_vram(model, w).total_gib
        cells = []
        for g in gpus:
            if w.method == "full":
                n = lc.min_gpus(model, g, with_zero3(w, 1), max_gpus=64)
            else:
                n = 1 if lc.fits(model, g, w) else None
            cells.append("does not fit" if n is None else f"{n} card(s)")
        print(f"{label:<18}{one:>12.1f}" + "".join(f"{c:>28}" for c in cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
