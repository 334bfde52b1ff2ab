"""Trace lit-gpt's own LoRA training step on fake tensors and compare it with the estimate.

The resource tables of Lightning-AI/litgpt (``tutorials/resource-tables.md``) were measured with
lit-gpt commit 8641822. This script runs that commit's ``lit_gpt`` model code (``lit_gpt/lora.py``,
``lit_gpt/model.py``) the way ``finetune/lora.py`` does on one device with ``--precision bf16-true``
(bf16 weights; LoRA r=8, alpha=16, dropout 0.05 on query and value; ``lm_head_chunk_size=128`` and
``chunked_cross_entropy``; the logits list alive through backward; AdamW), under
``llmcatalog.trace``'s allocation tracker (no GPU, no memory), and prints its peak next to the
estimate for ``FineTune.for_framework("litgpt")`` and the published figure.

Get the code (lit-gpt needs lightning only for what the model does not use; the script stubs it):

    git clone https://github.com/Lightning-AI/litgpt && git -C litgpt archive 8641822 lit_gpt | tar -x -C /tmp/lg
    python benchmarks/trace_litgpt.py /tmp/lg [phi-1_5 1 stablelm-base-alpha-3b 1 ...]   (default: all five)

Measured (2026-11, torch 2.13 CPU): phi-1.5 B=1/2/4 T=1044: 4.60/6.37/9.89 GB (published 4.82/6.76/10.68);
StableLM-3B B=1 T=1034: 9.51 GB (9.69); Llama-2-7B B=1 T=1304: 20.53 GB (21.30).
"""

from __future__ import annotations

import sys
import types
import warnings

import llmcatalog as lc

#: (lit-gpt config name, catalog id, micro-batch, longest Alpaca sample, published GB) from the tables.
CASES = {
    ("phi-1_5", 1): ("microsoft/phi-1_5", 1044, 4.82),
    ("phi-1_5", 2): ("microsoft/phi-1_5", 1044, 6.76),
    ("phi-1_5", 4): ("microsoft/phi-1_5", 1044, 10.68),
    ("stablelm-base-alpha-3b", 1): ("stabilityai/stablelm-base-alpha-3b", 1034, 9.69),
    ("Llama-2-7b-hf", 1): ("meta-llama/Llama-2-7b-hf", 1304, 21.30),
}


def _stub_lightning() -> None:
    """lit_gpt imports lightning for checkpoint loading and FSDP only: empty stand-ins suffice."""

    class RequirementCache:
        """lit_gpt asks for lightning (present, stubbed) and flash-attn (absent: SDPA runs)."""

        def __init__(self, requirement: str, *args: object) -> None:
            self.requirement = requirement

        def __bool__(self) -> bool:
            return self.requirement.startswith("lightning")

    names = {
        "lightning": {"Fabric": object},
        "lightning.fabric": {},
        "lightning.fabric.strategies": {"FSDPStrategy": object},
        "lightning.fabric.utilities": {},
        "lightning.fabric.utilities.load": {"_lazy_load": None},
        "lightning_utilities": {},
        "lightning_utilities.core": {},
        "lightning_utilities.core.imports": {"RequirementCache": RequirementCache},
    }
    for name, attrs_ in names.items():
        mod = types.ModuleType(name)
        mod.__dict__.update(attrs_)
        sys.modules.setdefault(name, mod)


def trace(name: str, batch: int, tokens: int) -> int:
    import lit_gpt.lora as lora
    import torch
    from lit_gpt.utils import chunked_cross_entropy
    from torch._subclasses.fake_tensor import FakeTensorMode

    from llmcatalog.trace import _make_tracker, _to_fake

    cfg = lora.Config.from_name(name, r=8, alpha=16, dropout=0.05, to_query=True, to_key=False, to_value=True)
    torch.set_default_dtype(torch.bfloat16)  # fabric.init_module under bf16-true
    with torch.device("meta"):
        model = lora.GPT(cfg)
    torch.set_default_dtype(torch.float32)
    lora.mark_only_lora_as_trainable(model)
    tracker = _make_tracker()()
    with FakeTensorMode():
        _to_fake(model)
        model.max_seq_length = tokens  # train(): the rope cache is rebuilt for the longest sample
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=3e-4, weight_decay=0.01, foreach=True)
        for t in [*model.parameters(), *model.buffers()]:
            tracker.track(t)
        model.train()
        with tracker:
            x = torch.zeros((batch, tokens), dtype=torch.long)
            y = torch.zeros((batch, tokens), dtype=torch.long)
            logits = model(x, lm_head_chunk_size=128)
            logits[-1] = logits[-1][..., :-1, :]
            loss = chunked_cross_entropy(logits, y[..., 1:])
            loss.backward()
            del loss, logits
            opt.step()
            opt.zero_grad()
    return int(tracker.peak)


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    sys.path.insert(0, sys.argv[1])
    _stub_lightning()
    warnings.simplefilter("ignore")
    wanted = [(sys.argv[i], int(sys.argv[i + 1])) for i in range(2, len(sys.argv) - 1, 2)] or list(CASES)
    for name, batch in wanted:
        mid, tokens, published = CASES[(name, batch)]
        peak = trace(name, batch, tokens)
        w = lc.FineTune.for_framework(
            "litgpt", method="lora", precision="bf16", mixed_precision=False, frozen_precision=None,
            batch_size=batch, seq_len=tokens, lora_dropout=0.05,
        )  # fmt: skip
        est = lc.estimate_vram(lc.get_model(mid), w).tensor_bytes
        print(
            f"{name:24s} B={batch} T={tokens}  lit-gpt traced {peak / 1e9:6.2f} GB  estimate {est / 1e9:6.2f} GB "
            f"({est / peak - 1:+.1%})  published {published:6.2f} GB"
        )


if __name__ == "__main__":
    main()
