"""Fixes from a user trial: fewest pipeline stages, FSDP-2 error text, what does not shard in
min_gpus' no-fit warning, warnings pointing at the caller's line, clear errors for None names,
the GPU card's "runs" list, and catalog dates/lineage."""

from __future__ import annotations

import attrs
import pytest

import llmcatalog as lc
from llmcatalog.registry.plugins import catalog


def test_pipeline_remedy_uses_fewest_stages_that_fit() -> None:
    # the user reported --pp 64 with 100000 GPUs and --pp 8 with 8, while --tp 4 was enough
    m, g = catalog().get_model("qwen3-32b"), catalog().get_gpu("RTX 4090")
    w = lc.Inference()
    for n_gpus in (8, 100_000):
        (pp,) = [r for r in lc.recommend(m, g, w, n_gpus=n_gpus) if r.name == "pipeline-split"]
        n = pp.workload.parallelism.pipeline_parallel
        assert pp.fits
        assert n < 8
        fewer = attrs.evolve(w, parallelism=lc.Parallelism(pipeline_parallel=n - 1))
        assert not lc.check(m, g, fewer).fits


def _named_options(message: str) -> set[str]:
    import re

    return set(re.findall(r"\b([a-z_]+)=", message))


def test_fsdp2_shard_grad_op_error_names_options_that_exist() -> None:
    import inspect

    fields = {f.name for f in attrs.fields(lc.Parallelism)}
    params = set(inspect.signature(lc.Parallelism.from_fsdp).parameters)
    with pytest.raises(lc.WorkloadError) as direct:
        lc.Parallelism.from_fsdp(fsdp_version=2, data_parallel=8, sharding_strategy="SHARD_GRAD_OP")
    named = _named_options(str(direct.value))
    assert named
    assert named <= params, named - params
    with pytest.raises(lc.WorkloadError) as raw:
        lc.Parallelism(fsdp="shard-grad-op", fsdp_version=2, data_parallel=8)
    named = _named_options(str(raw.value))
    assert named
    assert named <= fields, named - fields
    # each suggestion it makes is accepted
    lc.Parallelism.from_fsdp(fsdp_version=1, data_parallel=8, sharding_strategy="SHARD_GRAD_OP")
    lc.Parallelism.from_fsdp(fsdp_version=2, data_parallel=8, sharding_strategy="FULL_SHARD")


def test_min_gpus_no_fit_names_the_largest_unsplit_parts() -> None:
    m, g = catalog().get_model("llama-3.1-70b"), catalog().get_gpu("RTX 4090")
    w = lc.FineTune(method="full", parallelism=lc.Parallelism(zero_stage=3))
    with pytest.warns(lc.NoFitWarning) as caught:
        assert lc.min_gpus(m, g, w) is None
    (message,) = [str(x.message) for x in caught if issubclass(x.category, lc.NoFitWarning)]
    # the parts of the estimate at the most GPUs tried, computed here by estimate_vram itself
    at_most = lc.estimate_vram(m, attrs.evolve(w, parallelism=lc.Parallelism(zero_stage=3, data_parallel=1024)))
    largest = max(at_most.components, key=at_most.components.__getitem__)
    assert largest.startswith("activations")
    assert largest in message
    assert "gradient_checkpointing=True" in message
    assert "gradient_checkpointing" in {f.name for f in attrs.fields(lc.FineTune)}
    # and the hint helps: with checkpointing on, those activations shrink
    on = lc.estimate_vram(
        m, attrs.evolve(w, gradient_checkpointing=True, parallelism=lc.Parallelism(zero_stage=3, data_parallel=1024))
    )
    assert on.components[largest] < at_most.components[largest]


def _where(category: type[Warning], call: object) -> list[str]:
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()  # type: ignore[operator]
    found = [w.filename for w in caught if issubclass(w.category, category)]
    assert found, f"no {category.__name__}"
    return found


@pytest.mark.parametrize("through", ["estimate_vram", "fits"])
def test_warnings_point_at_the_callers_line(through: str) -> None:
    here = __file__
    m, gpu = catalog().get_model("qwen3-8b"), catalog().get_gpu("V100 32GB")
    call = getattr(lc, through)

    def run(w: object) -> object:
        return call(m, w) if through == "estimate_vram" else call(m, gpu, w)

    # a rank of its own: the LoRA plan is cached, and the warning comes from inside that cache
    rank = 7 if through == "fits" else 9
    lora = lc.FineTune(method="lora", lora_rank=rank, lora_targets=("q_proj", "w1"))
    assert set(_where(lc.LoraTargetWarning, lambda: run(lora))) == {here}
    long = lc.Inference(context_tokens=10 * m.architecture.max_context)
    assert set(_where(lc.ContextLengthWarning, lambda: run(long))) == {here}
    if through == "fits":
        awq = lc.Inference(precision="awq-int4")
        assert set(_where(lc.CompatibilityWarning, lambda: run(awq))) == {here}
    config = {"optimizer": {"type": "AdamW"}, "zero_optimization": {"stage": 2}, "bf16": {"enabled": True}}
    found = _where(lc.DeepSpeedWorkloadWarning, lambda: lc.Parallelism.from_deepspeed_config(config, data_parallel=2))
    assert set(found) == {here}


def test_cached_lora_plan_gives_the_same_result_after_warning() -> None:
    import warnings

    m = catalog().get_model("qwen3-8b")
    lora = lc.FineTune(method="lora", lora_rank=11, lora_targets=("q_proj", "w1"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = lc.estimate_vram(m, lora)
        second = lc.estimate_vram(m, lora)
    assert first == second


@pytest.mark.parametrize(
    ("function", "says"), [("get_model", "model name"), ("get_gpu", "GPU name"), ("search", "words")]
)
@pytest.mark.parametrize("value", [None, 3, b"qwen3-8b"])
def test_lookups_given_a_non_string_say_what_they_take(function: str, value: object, says: str) -> None:
    with pytest.raises(TypeError) as raised:
        getattr(lc, function)(value)
    text = str(raised.value)
    assert function in text
    assert says in text
    assert type(value).__name__ in text
    assert "os.PathLike object, not" not in text


@pytest.mark.parametrize("gpu", ["RTX 3090", "V100 32GB", "H100"])
def test_show_gpu_runs_line_lists_every_format_supports_allows(gpu: str, capsys: pytest.CaptureFixture[str]) -> None:
    from llmcatalog.cli.main import main
    from llmcatalog.values.precision import FORMATS

    assert main(["show", gpu]) == 0
    (line,) = [x for x in capsys.readouterr().out.splitlines() if x.startswith("runs")]
    listed = set(line.split(None, 1)[1].split(" (")[0].split(", "))
    g = catalog().get_gpu(gpu)
    # the formats a checkpoint or engine has (not the idealised int8/int4 bounds, nor fp32)
    real = [f for f, v in FORMATS.items() if v.linear_only or v.linear_bits == 16]
    assert listed == {f for f in real if lc.supports(g, f).ok}
    if gpu == "RTX 3090":  # the format best_precision recommends there for a 14B model is listed
        best = lc.best_precision(catalog().get_model("qwen3-14b"), g)
        assert best is not None
        assert best in listed


# Release dates from outside our code: the News section of the QwenLM/Qwen3 README (commit e5ccfa93)
# dates each Qwen3-2507 release; Mistral AI's "Mixtral of experts" announcement is dated 2023-12-11
# (mistral.ai/news/mixtral-of-experts; Simon Willison's note of that day, simonwillison.net/2023/Dec/11).
@pytest.mark.parametrize(
    ("model", "date", "source"),
    [
        ("Qwen/Qwen3-235B-A22B-Instruct-2507", "2025-07-21", "github.com/QwenLM/Qwen3"),
        ("Qwen/Qwen3-235B-A22B-Thinking-2507", "2025-07-25", "github.com/QwenLM/Qwen3"),
        ("Qwen/Qwen3-30B-A3B-Instruct-2507", "2025-07-30", "github.com/QwenLM/Qwen3"),
        ("Qwen/Qwen3-4B-Instruct-2507", "2025-08-06", "github.com/QwenLM/Qwen3"),
        ("mistralai/Mixtral-8x7B-v0.1", "2023-12-11", "mistral.ai/news/mixtral-of-experts"),
        ("mistralai/Mixtral-8x7B-Instruct-v0.1", "2023-12-11", "mistral.ai/news/mixtral-of-experts"),
    ],
)
def test_release_dates_with_their_source(model: str, date: str, source: str) -> None:
    m = catalog().get_model(model)
    assert str(m.release_date) == date
    assert any(source in url for url in m.sources)
