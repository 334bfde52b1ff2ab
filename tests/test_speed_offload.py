"""Training speed with ZeRO-Offload / ZeRO-Infinity / FSDP CPU offload (performance.training, "Offload").

Checked against what no one here wrote: the transfer volumes of the ZeRO-Offload paper (fp16 gradients
down, fp16 parameters up, each rank its 1/dp shard; Ren et al. 2021, section 4), the PCIe x16 rates of
the PCI-SIG generations, and the CPU optimizer times users measured (DeepSpeed issues 6695 and 1635,
PR 7474) that bound CPU_ADAM_PARAMS_PER_S.
"""

from __future__ import annotations

import warnings

import attrs
import pytest

import llmcatalog as lc
from llmcatalog.memory.params import count_params
from llmcatalog.performance.training import (
    CPU_ADAM_PARAMS_PER_S,
    CPU_ADAM_SLOW_PARAMS_PER_S,
    offload_transfer,
    training_time,
)


def _full(dp: int = 8, **parallel: object) -> lc.FineTune:
    return lc.FineTune(
        method="full",
        batch_size=1,
        seq_len=2048,
        gradient_checkpointing=True,
        parallelism=lc.Parallelism(data_parallel=dp, zero_stage=3, **parallel),
    )


@pytest.fixture
def model() -> lc.Model:
    return lc.get_model("qwen2.5-7b")


def _step(model: lc.Model, gpu: str, w: lc.FineTune) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return training_time(model, lc.get_gpu(gpu), w, tokens=2048 * w.parallelism.data_parallel).step_s


def test_optimizer_offload_adds_the_cpu_step(model: lc.Model) -> None:
    plain = _step(model, "A100 40GB", _full())
    offloaded = _step(model, "A100 40GB", _full(offload_optimizer=True))
    n = model.n_params
    assert n is not None
    # the whole model is trained; each of 8 ranks updates its eighth on the CPU, after the backward pass
    assert offloaded == pytest.approx(plain + n / 8 / CPU_ADAM_PARAMS_PER_S, rel=1e-9)


def test_transfer_volumes_follow_zero_offload(model: lc.Model) -> None:
    w = _full(dp=4, offload_optimizer=True, offload_params=True)
    t = offload_transfer(model, lc.get_gpu("A100 40GB"), w)
    assert t is not None
    arch = model.architecture
    assert arch is not None
    n = count_params(arch)
    shard = n * 2 / 4  # bf16, one of 4 ranks
    assert t.to_host_bytes == pytest.approx(shard)  # gradients down
    assert t.to_gpu_bytes == pytest.approx(shard + 3 * shard)  # updated parameters + forward, backward, recompute
    assert t.link_bytes_s == 32e9  # PCIe Gen4 x16, one direction (PCI-SIG 16 GT/s x 16 lanes)
    assert t.seconds == pytest.approx(4 * shard / 32e9)


def test_a_slow_link_bounds_the_step(model: lc.Model) -> None:
    """Parameter offload on a PCIe Gen3 T4 with a tiny batch: the host link, not the compute, sets the step."""
    w = attrs.evolve(_full(dp=1, offload_params=True), seq_len=16, precision="fp16")  # a T4 has no bf16
    t = offload_transfer(model, lc.get_gpu("T4"), w)
    assert t is not None
    assert t.link_bytes_s == 16e9  # PCIe Gen3 x16, one direction
    assert _step(model, "T4", w) == pytest.approx(t.seconds, rel=1e-9)


def test_without_offload_nothing_changes(model: lc.Model) -> None:
    assert offload_transfer(model, lc.get_gpu("A100 40GB"), _full()) is None


def test_the_cpu_optimizer_range_is_the_reported_one() -> None:
    # fast end: 1.2B parameters updated in 1.5 s (DeepSpeed issue 6695); slow end: 1.35B in 21.8 s (issue 1635)
    assert pytest.approx(1.2e9 / 1.5) == CPU_ADAM_PARAMS_PER_S
    assert pytest.approx(1.35e9 / 21.77, rel=0.05) == CPU_ADAM_SLOW_PARAMS_PER_S


def test_cli_says_offload_speed_is_an_upper_bound(capsys: pytest.CaptureFixture[str]) -> None:
    from llmcatalog.cli.main import main

    args = ["estimate", "qwen2.5-7b", "--finetune", "full", "--zero", "3", "--dp", "8", "--gpu", "A100 40GB"]
    assert main([*args, "--gradient-checkpointing"]) == 0
    plain = capsys.readouterr().out
    assert main([*args, "--gradient-checkpointing", "--offload-optimizer"]) == 0
    out = capsys.readouterr().out
    assert "with offload, at most" in out
    assert "CPU optimizer" in out
    assert "with offload" not in plain


def test_multi_gpu_speed_says_communication_is_not_counted(model: lc.Model) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = training_time(model, lc.get_gpu("A100 40GB"), _full(), tokens=8 * 2048)
        one = training_time(model, lc.get_gpu("A100 80GB"), attrs.evolve(_full(dp=1)), tokens=2048)
    assert any("communication" in a and "not counted" in a for a in t.assumptions)
    assert not any("communication" in a for a in one.assumptions)
