"""What users type resolves: short model names, quantized and re-uploaded Hub ids (offline), and
short GPU names, whose variant the CLI names.

Facts checked here come from outside our code: the official Hub repositories of the models
(their ids), the weight formats the repositories' names state (Qwen's ``-FP8``/``-AWQ``/
``-GPTQ-Int4`` releases, TheBloke's ``-GPTQ``, unsloth's ``-bnb-4bit``), the OLMo 2 config in
tests/data/hf_configs and the datasheet figures cited in the GPU entries. Nothing touches the network.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

import llmcatalog as lc
from llmcatalog.cli.main import main
from llmcatalog.registry.resolve import quantized_repo, resolve_model

CONFIGS = Path(__file__).parent / "data" / "hf_configs"


@pytest.mark.parametrize(
    ("typed", "hub"),
    [
        ("Mixtral-8x22B", "mistralai/Mixtral-8x22B-v0.1"),
        ("Mistral-Small-3.1-24B", "mistralai/Mistral-Small-3.1-24B-Instruct-2503"),
        ("Baichuan-M1-14B", "baichuan-inc/Baichuan-M1-14B-Instruct"),
        ("OLMo-2-7B", "allenai/OLMo-2-1124-7B"),
    ],
)
def test_short_model_names_resolve(catalog: lc.Catalog, typed: str, hub: str) -> None:
    """The names people write without a version suffix find the model of that official Hub repository."""
    assert catalog.get_model(typed).links.hub == f"https://huggingface.co/{hub}"


def test_olmo2_7b_matches_its_config(catalog: lc.Catalog) -> None:
    """OLMo 2 7B's catalog entry is what its published config.json describes."""
    cfg = json.loads((CONFIGS / "olmo-2-1124-7b.json").read_text())
    model = lc.Model.from_hf_config(cfg, id="olmo-2-1124-7b", name="OLMo 2 7B", sources=["https://huggingface.co"])
    entry = catalog.get_model("OLMo-2-7B")
    assert entry.architecture == model.architecture
    assert entry.n_params == model.n_params


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    pytest.importorskip("huggingface_hub")
    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return cache


QUANTIZED = [
    ("Qwen/Qwen3-8B-FP8", "qwen3-8b", "fp8"),
    ("Qwen/Qwen3-8B-AWQ", "qwen3-8b", "awq-int4"),
    ("Qwen/Qwen2.5-72B-Instruct-GPTQ-Int4", "qwen2.5-72b-instruct", "gptq-int4"),
    ("Qwen/Qwen2.5-7B-Instruct-GPTQ-Int8", "qwen2.5-7b-instruct", "gptq-int8"),
    ("TheBloke/Llama-2-7B-GPTQ", "llama-2-7b", "gptq-int4"),
    # unsloth's -bnb-4bit config.json sets bnb_4bit_use_double_quant: true (sources in registry/resolve.py).
    ("unsloth/Llama-3.2-3B-Instruct-bnb-4bit", "llama-3.2-3b-instruct", "bnb-nf4-dq"),
    ("hugging-quants/Meta-Llama-3.1-8B-Instruct-AWQ-INT4", "llama-3.1-8b-instruct", "awq-int4"),
    # compressed-tensors FP8 (Neural Magic / Red Hat AI model cards): per-channel dynamic, per-tensor static.
    ("RedHatAI/Meta-Llama-3.1-8B-Instruct-FP8-dynamic", "llama-3.1-8b-instruct", "ct-fp8-channel"),
    ("neuralmagic/Meta-Llama-3-8B-Instruct-FP8", "llama-3-8b-instruct", "ct-fp8-tensor"),
]


@pytest.mark.parametrize(("repo", "base", "fmt"), QUANTIZED)
def test_quantized_hub_ids_resolve_offline(offline: Path, catalog: lc.Catalog, repo: str, base: str, fmt: str) -> None:
    """A quantized repository of a catalog model is that model with the format its name states,
    offline and at once; the notes and the estimate say the format was inferred from the name."""
    start = time.perf_counter()
    model = resolve_model(repo, catalog)
    assert time.perf_counter() - start < 15  # no Hub retries (they took ~24 s); not a speed target
    assert model.base_model == base
    assert model.name == repo
    assert model.architecture == catalog.get_model(base).architecture
    assert model.weight_format is not None
    assert model.weight_format.name == fmt
    assert model.notes is not None
    assert "inferred from the repository name" in model.notes
    est = lc.estimate_vram(model, lc.Inference(context_tokens=1024))
    assert any("inferred from the repository name" in a for a in est.assumptions)
    plain = lc.estimate_vram(catalog.get_model(base), lc.Inference(context_tokens=1024))
    assert est.components["weights.model"] < plain.components["weights.model"]


def test_unsloth_reupload_is_the_base_model(offline: Path, catalog: lc.Catalog) -> None:
    """unsloth/Llama-3.2-3B-Instruct (a re-upload, no suffix) is the catalog's model, weights as stored."""
    model = resolve_model("unsloth/Llama-3.2-3B-Instruct", catalog)
    base = catalog.get_model("llama-3.2-3b-instruct")
    assert model.base_model == base.id
    assert model.architecture == base.architecture
    assert model.weight_format == base.weight_format
    assert model.notes is not None
    assert "re-upload" in model.notes


def test_a_cached_quantization_config_wins(offline: Path, catalog: lc.Catalog) -> None:
    """When the repository's config.json can be read (here from the cache), its quantization_config
    decides the format, not the name."""
    cfg: dict[str, Any] = json.loads((CONFIGS / "qwen3-8b.json").read_text())
    cfg["quantization_config"] = {"quant_method": "awq", "bits": 4, "group_size": 64, "zero_point": True}
    revision = "0123456789abcdef0123456789abcdef01234567"
    root = offline / "models--Qwen--Qwen3-8B-AWQ"
    (root / "snapshots" / revision).mkdir(parents=True)
    (root / "snapshots" / revision / "config.json").write_text(json.dumps(cfg))
    (root / "refs").mkdir()
    (root / "refs" / "main").write_text(revision)
    model = resolve_model("Qwen/Qwen3-8B-AWQ", catalog)
    assert model.weight_format is not None
    assert model.weight_format.group_size == 64
    assert "inferred" not in (model.notes or "")


def test_quantized_ids_resolve_without_the_hub_extra(monkeypatch: pytest.MonkeyPatch, catalog: lc.Catalog) -> None:
    """Without huggingface_hub the name alone still gives the base model and its format."""
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None)
    model = resolve_model("Qwen/Qwen3-8B-FP8", catalog)
    assert model.weight_format is not None
    assert model.weight_format.name == "fp8"
    assert model.notes is not None
    assert "hub extra" in model.notes


@pytest.mark.parametrize("repo", ["Qwen/Qwen3-8B", "meta-llama/Llama-2-7b-hf", "org/name", "Qwen/FP8"])
def test_names_without_a_format_suffix_are_not_quantized(repo: str) -> None:
    """Only a suffix names a format; an unrelated organization without one is no re-upload."""
    assert quantized_repo(repo) is None


def test_unknown_hub_id_offline_fails_fast(offline: Path, catalog: lc.Catalog) -> None:
    """A quantized-looking id whose base is not in the catalog goes to the Hub: offline and not
    cached, a CheckpointError naming it at once."""
    start = time.perf_counter()
    with pytest.raises(lc.CheckpointError, match="HF_HUB_OFFLINE") as info:
        resolve_model("someone/no-such-base-7B-AWQ", catalog)
    assert info.value.source == "someone/no-such-base-7B-AWQ"
    assert time.perf_counter() - start < 15  # no Hub retries (they took ~24 s); not a speed target


# -- GPUs ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("typed", "gpu_id"),
    [
        # nvidia-smi names the SXM5 module "NVIDIA H100 80GB HBM3": the H100 people rent (see docs/names.md)
        ("H100", "h100-sxm5-80gb"),
        ("H100 80GB", "h100-sxm5-80gb"),
        ("H100 PCIe", "h100-pcie-80gb"),
        ("A100", "a100-sxm4-40gb"),  # the SXM4 module at its launch size (40GB, 2020), as before
        ("H800", "h800-sxm5-80gb"),
        ("RTX 4090 D", "rtx-4090-d"),
        ("RTX 4090", "rtx-4090"),
    ],
)
def test_bare_gpu_names_are_the_sxm_module_at_launch_size(catalog: lc.Catalog, typed: str, gpu_id: str) -> None:
    """A bare data-centre name is the SXM module at its launch memory size; a named variant is that variant."""
    assert catalog.get_gpu(typed).id == gpu_id


def test_rtx_4090_d_datasheet(catalog: lc.Catalog) -> None:
    """RTX 4090 D: 24GB GDDR6X at 1,008 GB/s, FP32 73.54 TFLOPS (hmc-tech.com spec page)."""
    gpu = catalog.get_gpu("RTX 4090 D")
    assert gpu.memory_bytes == 24 * 2**30
    assert gpu.bandwidth_gb_s == 1008.0
    assert gpu.fp32_tflops == 73.54


def test_cli_names_the_gpu_variant(capsys: pytest.CaptureFixture[str]) -> None:
    """`estimate --gpu H100` prints the exact card used and the other variants of that name."""
    main(["estimate", "qwen3-8b", "--gpu", "H100"])
    out = capsys.readouterr().out
    assert "NVIDIA H100 SXM5 80GB:" in out
    assert "'H100' read as NVIDIA H100 SXM5 80GB" in out
    assert "h100-pcie-80gb" in out
    assert "h100-nvl-94gb" in out
    main(["estimate", "qwen3-8b", "--gpu", "H100 SXM5 80GB"])
    assert "read as" not in capsys.readouterr().out


def test_cli_lists_the_choices_of_an_ambiguous_gpu(capsys: pytest.CaptureFixture[str]) -> None:
    """`--gpu GH200` (96GB and 144GB exist) is refused with both choices listed."""
    assert main(["estimate", "qwen3-8b", "--gpu", "GH200"]) == 2
    err = capsys.readouterr().err
    assert "gh200-96gb" in err
    assert "gh200-144gb" in err
