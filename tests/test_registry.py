"""Entry-point plugins: built-ins, third parties, broken plugins, conflicts, kill switch."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import llmcatalog as lc

GOOD_MODEL = """
import llmcatalog as lc

def models():
    return [lc.Model(id="plugin-llama", name="Plugin Llama", domain="plugin-domain", base_model="llama-2-7b",
                     sources=["https://example.org/plugin-llama"])]
"""


def _install(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    dist: str,
    module: str,
    code: str,
    entry: str = "models",
    group: str = "llmcatalog.models",
    name: str = "extra",
) -> None:
    """A fake installed distribution: a module plus a .dist-info with an entry point."""
    root = tmp_path / dist
    root.mkdir()
    (root / f"{module}.py").write_text(textwrap.dedent(code))
    info = root / f"{dist.replace('-', '_')}-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text(f"[{group}]\n{name} = {module}:{entry}\n")
    monkeypatch.syspath_prepend(str(root))
    lc.clear_cache()


def test_builtins_load_through_entry_points(catalog: lc.Catalog) -> None:
    """Every built-in domain is a plugin of the llmcatalog distribution."""
    builtin = [p for p in catalog.plugins if p.builtin]
    assert {p.distribution for p in builtin} == {"llmcatalog"}
    assert sum(p.count for p in builtin if p.group == "llmcatalog.models") == len(catalog.models)


def test_nothing_is_loaded_at_import() -> None:
    """Importing llmcatalog reads no data file (the catalog is built on first use)."""
    code = (
        "import sys, llmcatalog, llmcatalog.registry.plugins as r; "
        "print(r._cached.cache_info().currsize, 'tomllib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "0"


def test_catalog_is_cached_and_clearable() -> None:
    """catalog() is cached; clear_cache() forgets it."""
    first = lc.catalog()
    assert lc.catalog() is first
    lc.clear_cache()
    assert lc.catalog() is not first


def test_third_party_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A third party's models join the catalog and inherit architectures across plugins."""
    _install(tmp_path, monkeypatch, "thirdparty-good", "tp_good", GOOD_MODEL)
    cat = lc.catalog()
    m = cat.get_model("Plugin Llama")
    assert m.architecture_from == "llama-2-7b"
    info = next(p for p in cat.plugins if p.distribution == "thirdparty-good")
    assert (info.version, info.builtin, info.count) == ("1.2.3", False, 1)


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("def models():\n    raise RuntimeError('boom')\n", "raised RuntimeError: boom"),
        ("def models():\n    return ['not a model']\n", "item 0 is a str, expected llmcatalog.Model"),
        ("def models():\n    return 42\n", "returned int, expected an iterable"),
        ("models = 3\n", "is not callable"),
        ("import does_not_exist\ndef models():\n    return []\n", "cannot import"),
        (
            "import llmcatalog as lc\ndef models():\n    return [lc.Model(id='x', name='X', domain='d')]\n",
            "has no sources",
        ),
        (
            "import llmcatalog as lc\n"
            "def models():\n"
            "    return lc.load_toml(__file__.replace('.py', '.toml'))['models']\n",
            "cannot read",
        ),
    ],
)
def test_broken_plugin_warns_and_the_rest_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: str, reason: str
) -> None:
    """A broken plugin warns, is recorded with its distribution, and every other entry still loads."""
    module = f"tp_broken_{abs(hash(code))}"  # one module per case: sys.modules caches imports
    _install(tmp_path, monkeypatch, "thirdparty-broken", module, code)
    with pytest.warns(lc.PluginWarning, match="thirdparty-broken 1.2.3"):
        cat = lc.catalog()
    (err,) = cat.plugin_errors
    assert reason in err.reason
    assert err.distribution == "thirdparty-broken"
    assert err.version == "1.2.3"
    assert cat.get_model("llama-2-7b").n_params == 6_738_415_616


def test_malformed_toml_in_a_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A plugin whose TOML is malformed is skipped with the file path in the message."""
    root = tmp_path / "data"
    root.mkdir()
    (root / "models.toml").write_text('[[models]]\nid = "x"\nname = 3\n')
    code = f"import llmcatalog as lc\ndef models():\n    return lc.load_toml({str(root / 'models.toml')!r})['models']\n"
    _install(tmp_path, monkeypatch, "thirdparty-toml", "tp_toml", code)
    with pytest.warns(lc.PluginWarning, match=r"models\[0\]\.name: expected a string"):
        cat = lc.catalog()
    assert len(cat.plugin_errors) == 1


def test_strict_mode_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """strict=True (or LLMCATALOG_STRICT=1) raises PluginError from the original exception."""
    _install(tmp_path, monkeypatch, "thirdparty-strict", "tp_strict", "def models():\n    raise KeyError('k')\n")
    with pytest.raises(lc.PluginError) as info:
        lc.catalog(strict=True)
    assert isinstance(info.value.__cause__, KeyError)
    monkeypatch.setenv("LLMCATALOG_STRICT", "1")
    lc.clear_cache()
    with pytest.raises(lc.PluginError):
        lc.catalog()


def test_conflicting_plugin_is_rejected_naming_both(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A plugin claiming an existing id with different facts is skipped; the message names both."""
    code = (
        "import llmcatalog as lc\ndef models():\n    return [lc.Model(id='llama-2-7b', name='Fake', domain='x',"
        " sources=['https://example.org'])]\n"
    )
    _install(tmp_path, monkeypatch, "thirdparty-clash", "tp_clash", code)
    with pytest.warns(lc.PluginWarning, match="provided differently by plugin 'general' .*thirdparty-clash"):
        cat = lc.catalog()
    assert cat.get_model("llama-2-7b").name != "Fake"


def test_identical_duplicates_are_fine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Re-registering an identical entry is not a conflict."""
    code = (
        "import llmcatalog as lc\nfrom llmcatalog.registry.domains import domain_models\n"
        "def models():\n    return [m for m in domain_models('general') if m.id == 'phi-2']\n"
    )
    _install(tmp_path, monkeypatch, "thirdparty-same", "tp_same", code)
    cat = lc.catalog(strict=True)
    assert not cat.plugin_errors
    assert cat.get_model("phi-2")


def test_kill_switch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """LLMCATALOG_DISABLE_PLUGINS=1 loads only llmcatalog's own plugins."""
    _install(tmp_path, monkeypatch, "thirdparty-kill", "tp_kill", "def models():\n    raise SystemError('x')\n")
    monkeypatch.setenv("LLMCATALOG_DISABLE_PLUGINS", "1")
    lc.clear_cache()
    cat = lc.catalog(strict=True)
    assert not cat.plugin_errors
    assert all(p.builtin for p in cat.plugins)


def test_gpu_and_tool_groups(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The gpus and tools groups take GPU and Tool entries, type-checked the same way."""
    code = (
        "import llmcatalog as lc\ndef gpus():\n    return [lc.GPU(id='my-npu', name='My NPU', vendor='Acme',"
        " memory_bytes=32 * 2**30, sources=['https://example.org/npu'])]\n"
    )
    _install(tmp_path, monkeypatch, "thirdparty-gpu", "tp_gpu", code, entry="gpus", group="llmcatalog.gpus")
    assert lc.catalog().get_gpu("My NPU").memory_gib == 32


def test_example_plugin_installs_and_registers(tmp_path: Path) -> None:
    """The example package under examples/ installs with pip and its models appear in the catalog."""
    example = Path(__file__).resolve().parents[1] / "examples" / "llmcatalog-example-plugin"
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(example),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    code = (
        "import llmcatalog as lc; m = lc.get_model('ELYZA-japanese-Llama-2-7b-instruct'); "
        "p = [x for x in lc.catalog().plugins if not x.builtin][0]; "
        "print(m.architecture_from, p.distribution, lc.estimate_vram(m, lc.Inference()).weights_bytes)"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")])}
    env.pop("LLMCATALOG_DISABLE_PLUGINS", None)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["llama-2-7b", "llmcatalog-example-plugin", str(2 * 6_738_415_616)]


def test_unreadable_distribution_is_skipped_with_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A dist-info without METADATA (interrupted install) is skipped naming the entry point; built-ins work."""
    _install(tmp_path, monkeypatch, "thirdparty-torn", "tp_torn", GOOD_MODEL, name="torn")
    (tmp_path / "thirdparty-torn" / "thirdparty_torn-1.2.3.dist-info" / "METADATA").unlink()
    with pytest.warns(lc.PluginWarning, match=r"'torn'.*metadata.*cannot be read"):
        cat = lc.catalog()
    assert cat.get_model("llama-2-7b").n_params
    (err,) = cat.plugin_errors
    assert err.name == "torn"
    assert "MetadataNotFound" in err.reason


def test_distribution_without_a_name_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A METADATA without 'Name' is a plugin error, not a KeyError for every look-up."""
    _install(tmp_path, monkeypatch, "thirdparty-noname", "tp_noname", GOOD_MODEL, name="noname")
    (tmp_path / "thirdparty-noname" / "thirdparty_noname-1.2.3.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nVersion: 1.2.3\n"
    )
    with pytest.warns(lc.PluginWarning, match=r"'noname'.*metadata.*'Name'"):
        cat = lc.catalog()
    assert cat.get_model("llama-2-7b")


def test_kill_switch_skips_an_unreadable_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """LLMCATALOG_DISABLE_PLUGINS=1 also skips a distribution whose metadata cannot be read."""
    _install(tmp_path, monkeypatch, "thirdparty-torn2", "tp_torn2", GOOD_MODEL, name="torn2")
    (tmp_path / "thirdparty-torn2" / "thirdparty_torn2-1.2.3.dist-info" / "METADATA").unlink()
    monkeypatch.setenv("LLMCATALOG_DISABLE_PLUGINS", "1")
    lc.clear_cache()
    cat = lc.catalog(strict=True)
    assert not cat.plugin_errors
    assert cat.get_model("llama-2-7b")


REENTRANT = """
import llmcatalog as lc

def models():
    lc.get_model("llama-2-7b")
    return []
"""


def test_reentrant_plugin_is_an_error_not_a_hang(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A plugin whose models() calls get_model() is skipped naming it (run in a subprocess: a hang must fail)."""
    _install(tmp_path, monkeypatch, "thirdparty-reenter", "tp_reenter", REENTRANT, name="reenter")
    code = (
        "import warnings, llmcatalog as lc\n"
        "with warnings.catch_warnings(record=True):\n"
        "    warnings.simplefilter('always')\n"
        "    cat = lc.catalog()\n"
        "print(lc.get_model('llama-2-7b').id)\n"
        "print([e.name for e in cat.plugin_errors])\n"
        "print(cat.plugin_errors[0].reason)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*sys.path])}
    env.pop("LLMCATALOG_DISABLE_PLUGINS", None)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30, check=True)
    lines = out.stdout.splitlines()
    assert lines[:2] == ["llama-2-7b", "['reenter']"]
    assert "while the catalog is being built" in lines[2]


def test_reentry_in_strict_mode_raises_plugin_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Strict mode turns the re-entry into a PluginError naming the plugin (and the lock is released)."""
    _install(tmp_path, monkeypatch, "thirdparty-reenter2", "tp_reenter2", REENTRANT, name="reenter2")
    with pytest.raises(lc.PluginError, match=r"'reenter2'.*being built"):
        lc.catalog(strict=True)
    monkeypatch.setenv("LLMCATALOG_DISABLE_PLUGINS", "1")
    assert lc.catalog(strict=True).get_model("llama-2-7b")  # not deadlocked afterwards


SLOW = """
import time
import llmcatalog as lc

def models():
    time.sleep(0.3)
    return [lc.Model(id="slow-model", name="Slow Model", domain="plugin-domain",
                     sources=["https://example.org/slow"])]
"""


def test_other_threads_wait_for_the_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Threads building the catalog concurrently all get the one cached catalog (no false re-entry error)."""
    import threading

    _install(tmp_path, monkeypatch, "thirdparty-slow", "tp_slow", SLOW, name="slow")
    results: list[object] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            results.append(lc.get_model("Slow Model"))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert len(results) == 4
    assert len({id(r) for r in results}) == 1
