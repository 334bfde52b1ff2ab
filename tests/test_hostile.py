"""Hostile input never takes the host down: planted caches, huge or odd arguments, escape codes."""

from __future__ import annotations

import copy
import hashlib
import importlib
import importlib.util
import json
import math
import os
import subprocess
import sys
import time
from importlib.resources import files
from pathlib import Path

import pytest

import llmcatalog as lc
from llmcatalog.registry import converter
from llmcatalog.values.precision import DTYPE_BYTES, FORMATS

#: Llama-2-7b-hf parameter count (transformers ``num_parameters()`` of meta-llama/Llama-2-7b-hf,
#: as listed in the model's config-derived figures and the Llama 2 paper's "7B").
LLAMA2_7B_PARAMS = 6_738_415_616
ROOT = Path(__file__).resolve().parents[1]
cli = importlib.import_module("llmcatalog.cli.main")  # the module (llmcatalog.cli.main is also the function)


# -- read-only tables -------------------------------------------------------------------------
def test_formats_and_dtype_bytes_are_read_only() -> None:
    """Nobody can change what bf16 weighs for everyone: FORMATS and DTYPE_BYTES are read-only views."""
    with pytest.raises(TypeError):
        lc.FORMATS["bf16"] = FORMATS["fp32"]  # type: ignore[index]
    with pytest.raises(TypeError):
        DTYPE_BYTES["bf16"] = 4  # type: ignore[index]
    with pytest.raises(TypeError):
        del lc.FORMATS["bf16"]  # type: ignore[attr-defined]
    assert DTYPE_BYTES["bf16"] == 2
    assert lc.FORMATS["bf16"].linear_bits == 16


# -- the parse cache --------------------------------------------------------------------------
GENERAL = files("llmcatalog.registry.data").joinpath("general", "models.toml").read_bytes()


def _tampered_general() -> dict[str, object]:
    """The general domain's document with llama-2-7b claiming one parameter."""
    import tomllib

    doc = tomllib.loads(GENERAL.decode())
    doc = copy.deepcopy(doc)
    for m in doc["models"]:
        if m["id"] == "llama-2-7b":
            m["n_params"] = 1
    return doc


def _cache_path(cache: Path) -> Path:
    return cache / f"toml-{hashlib.blake2b(GENERAL, digest_size=16).hexdigest()}.json"


def _with_header(payload: bytes, source: bytes = GENERAL, key: bytes | None = None) -> bytes:
    """A cache file for ``source``: authenticated with ``key`` (the directory's secret), or -- as a
    planter without the key would -- with a plain, recomputed hash of the payload."""
    src = hashlib.blake2b(source, digest_size=16)
    if key is None:
        digest = hashlib.blake2b(payload, digest_size=16).hexdigest()
    else:
        digest = hashlib.blake2b(src.digest() + payload, key=key, digest_size=16).hexdigest()
    return b"%s %s %s\n" % (converter._MAGIC, src.hexdigest().encode(), digest.encode()) + payload


def _own_key(cache: Path) -> bytes:
    """The cache directory's secret, as llmcatalog makes it on first write (32 private random bytes)."""
    key = os.urandom(32)
    fd = os.open(cache / "key", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, key)
    os.close(fd)
    return key


def _llama_params(cache: Path, monkeypatch: pytest.MonkeyPatch) -> int | None:
    monkeypatch.setenv("LLMCATALOG_CACHE_DIR", str(cache))
    monkeypatch.setenv("LLMCATALOG_DISABLE_PLUGINS", "1")
    monkeypatch.delenv("LLMCATALOG_NO_CACHE", raising=False)
    lc.clear_cache()
    return lc.get_model("llama-2-7b").n_params


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    d = tmp_path / "cache"
    d.mkdir(mode=0o700)
    return d


def test_a_valid_cache_file_is_used(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cache is really read (so the tests below, where it is ignored, can fail): a file in the
    documented format in the user's own private directory is trusted, as documented."""
    payload = json.dumps(_tampered_general()).encode()
    _cache_path(cache).write_bytes(_with_header(payload, key=_own_key(cache)))
    assert _llama_params(cache, monkeypatch) == 1


@pytest.mark.parametrize("with_key", [False, True], ids=["key-missing", "key-present"])
def test_a_file_planted_without_the_key_is_ignored(cache: Path, monkeypatch: pytest.MonkeyPatch, with_key) -> None:
    """A well-formed file whose hashes were recomputed by someone without the directory's secret key
    (another user, another machine, a copied cache) is not trusted."""
    if with_key:
        _own_key(cache)
    _cache_path(cache).write_bytes(_with_header(json.dumps(_tampered_general()).encode()))
    assert _llama_params(cache, monkeypatch) == LLAMA2_7B_PARAMS


def test_a_file_made_under_another_key_is_ignored(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache file authenticated under another directory's key is not trusted here."""
    _own_key(cache)
    other = os.urandom(32)
    _cache_path(cache).write_bytes(_with_header(json.dumps(_tampered_general()).encode(), key=other))
    assert _llama_params(cache, monkeypatch) == LLAMA2_7B_PARAMS


def test_a_readable_key_is_not_trusted(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A key file others can read is no secret: the cache is not trusted (nor rewritten) with it."""
    key = _own_key(cache)
    (cache / "key").chmod(0o644)
    _cache_path(cache).write_bytes(_with_header(json.dumps(_tampered_general()).encode(), key=key))
    assert _llama_params(cache, monkeypatch) == LLAMA2_7B_PARAMS


@pytest.mark.parametrize(
    "planted",
    [
        pytest.param(lambda: json.dumps(_tampered_general()).encode(), id="plain-json-of-old-format"),
        pytest.param(lambda: _with_header(json.dumps(_tampered_general()).encode())[:-40], id="truncated"),
        pytest.param(
            lambda: _with_header(json.dumps(_tampered_general()).encode()).replace(
                b'"n_params": 1,', b'"n_params": 2,'
            ),
            id="payload-edited-after-hashing",
        ),
        pytest.param(
            lambda: _with_header(json.dumps(_tampered_general()).encode(), source=b"another file"),
            id="for-another-source",
        ),
        pytest.param(lambda: _with_header(json.dumps({"models": None}).encode()), id="json-null-not-toml"),
        pytest.param(lambda: _with_header(b"[" * 100_000 + b"]" * 100_000), id="deep-garbage"),
        pytest.param(lambda: b"\x00\xff" * 1000, id="binary-garbage"),
    ],
)
def test_a_tampered_cache_file_is_ignored(cache: Path, monkeypatch: pytest.MonkeyPatch, planted) -> None:
    """A planted, corrupted, foreign or malformed cache file is never trusted: the TOML is parsed again."""
    _cache_path(cache).write_bytes(planted())
    assert _llama_params(cache, monkeypatch) == LLAMA2_7B_PARAMS


def test_an_oversized_cache_file_is_not_read(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache file over MAX_CACHE_BYTES is ignored without being read."""
    monkeypatch.setattr(converter, "MAX_CACHE_BYTES", 1000)
    _cache_path(cache).write_bytes(_with_header(json.dumps(_tampered_general()).encode()))
    assert _llama_params(cache, monkeypatch) == LLAMA2_7B_PARAMS


def test_a_symlinked_cache_file_is_not_followed(cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache entry that is a symlink is neither read nor written through; the link itself is replaced."""
    target = tmp_path / "elsewhere.json"
    target.write_bytes(_with_header(json.dumps(_tampered_general()).encode()))
    before = target.read_bytes()
    _cache_path(cache).symlink_to(target)
    assert _llama_params(cache, monkeypatch) == LLAMA2_7B_PARAMS
    assert target.read_bytes() == before
    assert not _cache_path(cache).is_symlink()


def test_a_shared_or_symlinked_cache_dir_is_not_used(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cache directory others can write to, or one that is a symlink, is not read."""
    _cache_path(cache).write_bytes(_with_header(json.dumps(_tampered_general()).encode()))
    cache.chmod(0o777)
    assert _llama_params(cache, monkeypatch) == LLAMA2_7B_PARAMS
    cache.chmod(0o700)
    link = tmp_path / "link"
    link.symlink_to(cache)
    assert _llama_params(link, monkeypatch) == LLAMA2_7B_PARAMS


def test_cache_files_are_private(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Written cache files are readable and writable by their owner only, with no temporary files left."""
    _llama_params(cache, monkeypatch)
    written = list(cache.iterdir())
    assert any(p.name.startswith("toml-") for p in written)
    assert (cache / "key").stat().st_size == 32
    assert all((p.name.startswith("toml-") and p.suffix == ".json") or p.name == "key" for p in written)
    assert all(p.stat().st_mode & 0o077 == 0 for p in written)


# -- data files -------------------------------------------------------------------------------
@pytest.mark.parametrize("depth", [40, 3000])
def test_deeply_nested_toml_is_a_data_error(depth: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """TOML nested thousands deep is a CatalogDataError, not a RecursionError."""
    monkeypatch.setenv("LLMCATALOG_NO_CACHE", "1")
    with pytest.raises(lc.CatalogDataError, match="nested too deeply"):
        converter.load_entries("x = " + "[" * depth + "]" * depth, source="deep.toml")


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('models = [1, "x"]', "models[0]: must be a table"),
        ("models = [[1]]", "models[0]: must be a table"),
        (
            '[[models]]\nid = "a"\nname = "A"\ndomain = "d"\nsources = ["https://e.org"]\nfigures = [1]\n',
            "models[0].figures[0]: expected a table",
        ),
    ],
)
def test_array_entries_that_are_not_tables(text: str, where: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """An array entry that is not a table is a CatalogDataError with its path, not an AttributeError."""
    monkeypatch.setenv("LLMCATALOG_NO_CACHE", "1")
    with pytest.raises(lc.CatalogDataError, match=r"bad\.toml: " + where.replace("[", r"\[").replace("]", r"\]")):
        converter.load_entries(text, source="bad.toml")


def _validate(path: str) -> subprocess.CompletedProcess[str]:
    code = "import sys; from llmcatalog.cli.main import main; sys.exit(main(['validate', sys.argv[1]]))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    # A subprocess with a timeout and a memory cap: before the fix /dev/zero ate all memory.
    return subprocess.run(
        [
            sys.executable,
            "-c",
            f"import resource; resource.setrlimit(resource.RLIMIT_AS, (2**31, 2**31)); {code}",
            path,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize(("path", "kind"), [("/dev/zero", "a device"), ("fifo", "a pipe"), ("dir", "a directory")])
def test_validate_reads_only_regular_files(path: str, kind: str, tmp_path: Path) -> None:
    """`llmcatalog validate` refuses devices, FIFOs and directories (no hang, no memory blow-up)."""
    if path == "fifo":
        path = str(tmp_path / "fifo")
        os.mkfifo(path)
    elif path == "dir":
        path = str(tmp_path)
    out = _validate(path)
    assert out.returncode == 2
    assert f"is {kind}, not a regular file" in out.stderr


def test_load_toml_bounds_file_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A data file over MAX_DATA_FILE_BYTES is refused, saying the limit."""
    from llmcatalog.registry import plugins

    monkeypatch.setattr(plugins, "MAX_DATA_FILE_BYTES", 100)
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * 200 + "\n")
    with pytest.raises(lc.CatalogDataError, match="at most 100"):
        lc.load_toml(big)


# -- bounded look-ups ---------------------------------------------------------------------------
def _benchmark() -> object:
    spec = importlib.util.spec_from_file_location("bench_lookups", ROOT / "benchmarks" / "lookups.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gpu_lookup_of_a_long_digit_run_is_fast(catalog: lc.Catalog) -> None:
    """get_gpu("1" * 20000) answers (a quadratic regex took 16 s). A hang guard, not a speed target:
    benchmarks/lookups.py prints the look-up times; this bound only catches the quadratic blow-up."""
    t = time.perf_counter()
    with pytest.raises(lc.UnknownGPUError):
        catalog.get_gpu("1" * 20_000)
    assert time.perf_counter() - t < 8.0
    assert catalog.get_gpu("A100 80G").id == catalog.get_gpu("A100 80GB").id  # the shorthand still works


def test_every_lookup_is_bounded_on_hostile_input(catalog: lc.Catalog) -> None:
    """No look-up hangs on any input of up to 100,000 characters (the 50 ms target is printed by
    benchmarks/lookups.py; this guard only catches super-linear blow-ups, so a loaded machine does not flake)."""
    bench = _benchmark()
    results = bench.worst_case(catalog, repeat=1)  # type: ignore[attr-defined]
    slow = [(round(s, 3), name, label) for s, name, label in results if s > 5.0]
    assert not slow, slow
    assert len(results) >= 500  # the inputs did not collapse


def test_unknown_name_message_is_bounded(catalog: lc.Catalog) -> None:
    """The error for a 100,000-character name does not echo it whole."""
    with pytest.raises(lc.UnknownModelError) as info:
        catalog.get_model("x" * 100_000)
    assert len(str(info.value)) < 1000


# -- typed query errors -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "error", "arg"),
    [
        (lambda c: c.search(None), TypeError, "text="),
        (lambda c: c.search(42), TypeError, "text="),
        (lambda c: c.search("llama", limit=-1), lc.QueryError, "limit="),
        (lambda c: c.search("llama", limit=2.5), TypeError, "limit="),
        (lambda c: c.search("x" * 100_000), lc.QueryError, "text="),
        (lambda c: c.find_models(organization=5), TypeError, "organization="),
        (lambda c: c.find_models(domain=["medical"]), TypeError, "domain="),
        (lambda c: c.find_models(min_params=math.nan), lc.QueryError, "min_params="),
        (lambda c: c.find_models(max_params=-1), lc.QueryError, "max_params="),
        (lambda c: c.find_models(max_params=math.inf), lc.QueryError, "max_params="),
        (lambda c: c.find_models(min_params="7e9"), TypeError, "min_params="),
        (lambda c: c.find_models(min_params=8e9, max_params=7e9), lc.QueryError, "min_params="),
        (lambda c: c.find_models(open_weights="yes"), TypeError, "open_weights="),
        (lambda c: c.find_models(organization="x" * 100_000), lc.QueryError, "organization="),
    ],
)
def test_bad_query_arguments_are_typed_errors(catalog: lc.Catalog, call, error: type, arg: str) -> None:
    """Wrong types, NaN, negative or absurd values raise a typed error naming the argument."""
    with pytest.raises(error, match=arg):
        call(catalog)


def test_query_error_is_exported() -> None:
    """QueryError is public, an LLMCatalogError and a ValueError."""
    assert "QueryError" in lc.__all__
    assert issubclass(lc.QueryError, lc.LLMCatalogError)
    assert issubclass(lc.QueryError, ValueError)


@pytest.mark.parametrize(
    ("criteria", "suggestion"),
    [
        ({"domain": "medicl"}, "medical"),  # "medicine" is a synonym (names.DOMAIN_SYNONYMS)
        ({"language": "klingon"}, None),
        ({"modality": "vision"}, "vision-language"),
        ({"series": "lama-2"}, "llama-2"),
        ({"subdomain": "no-such-subdomain"}, None),
    ],
)
def test_unknown_filter_values_are_errors_with_suggestions(
    catalog: lc.Catalog, criteria: dict[str, str], suggestion: str | None
) -> None:
    """A filter value no model has is an error (not a silent empty result), suggesting known values."""
    (arg,) = criteria
    with pytest.raises(lc.QueryError, match=f"{arg}=") as info:
        catalog.find_models(**criteria)
    if suggestion is not None:
        assert suggestion in info.value.suggestions


def test_filter_values_ignore_separators(catalog: lc.Catalog) -> None:
    """A filter value written without its separators is the value ("llama2" is the llama-2 series)."""
    assert catalog.find_models(series="llama2") == catalog.find_models(series="llama-2")
    assert catalog.find_models(series="llama-2")


@pytest.mark.parametrize("name", ["chinese", "Chinese", "中文", "zh-CN", "ZH"])
def test_language_synonyms(catalog: lc.Catalog, name: str) -> None:
    """Common names of a language find the models listed under its ISO code."""
    expected = catalog.find_models(language="zh")
    assert expected
    assert catalog.find_models(language=name) == expected


def test_domain_filter_ignores_case(catalog: lc.Catalog) -> None:
    """domain="Medical" is the medical domain."""
    assert catalog.find_models(domain="Medical") == catalog.find_models(domain="medical") != ()


# -- the command line -----------------------------------------------------------------------------
def test_cli_unknown_filter_exits_2_with_suggestions(capsys: pytest.CaptureFixture[str]) -> None:
    """`list models --domain medicl` is an error suggesting `medical`, not "0 model(s)"."""
    assert cli.main(["list", "models", "--domain", "medicl"]) == 2
    assert "medical" in capsys.readouterr().err
    assert cli.main(["list", "models", "--language", "chinese"]) == 0
    chinese = capsys.readouterr().out.splitlines()[-1]
    cli.main(["list", "models", "--language", "zh"])
    assert capsys.readouterr().out.splitlines()[-1] == chinese


EVIL = "\x1b]0;pwned\x07\x1b[2J\x9b31m\x00\x7f"


def _evil_catalog() -> lc.Catalog:
    model = lc.Model(
        id="evil-model",
        name=f"Evil {EVIL} Model",
        domain="general",
        aliases=(f"evil{EVIL}alias",),
        organization=f"Org{EVIL}",
        description=f"line one\n{EVIL}line two",
        notes=EVIL,
        sources=(f"https://example.org/{EVIL}",),
    )
    tool = lc.Tool(
        id="evil-tool", name=f"Tool {EVIL}", category="serving", url="https://example.org", sources=("https://e.org",)
    )
    return lc.Catalog.from_entries(model, tool)


@pytest.mark.parametrize(
    "argv",
    [
        ["show", "evil-model"],
        ["show", "evil-tool"],
        ["list", "models"],
        ["list", "models", "--json"],
        ["list", "tools"],
        ["search", "evil"],
        ["lineage", "evil-model"],
        ["show", "Evil \x1b[2J"],
    ],
)
def test_cli_escapes_control_characters(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Terminal escape sequences in plugin text are printed as visible escapes, never raw."""
    monkeypatch.setattr(cli, "catalog", _evil_catalog)
    cli.main(argv)
    out = capsys.readouterr()
    text = out.out + out.err
    assert text.strip()
    for ch in "\x1b\x9b\x07\x00\x7f":
        assert ch not in text, (ch, text)
    if argv[0] == "show" and argv[1] == "evil-model":
        assert "\\x1b]0;pwned" in text  # shown, not hidden
        assert "line one\n" in text  # descriptions keep their lines
    if "--json" in argv:
        assert json.loads(out.out)[0]["name"] == f"Evil {EVIL} Model"  # JSON stays exact


@pytest.mark.parametrize("name", ["x" * 300, "y" * 5000, "a\x00b", "/" + "z" * 400])
def test_names_the_os_cannot_take_as_paths_are_looked_up_as_names(name: str) -> None:
    """A model name longer than a file name may be (or with a NUL byte) is not a path: the look-up
    answers UnknownModelError (or CheckpointError for what looks like a path), never OSError."""
    with pytest.raises((lc.UnknownModelError, lc.CheckpointError)):
        lc.estimate_vram(name, lc.Inference())
    code = cli.main(["estimate", name])
    assert code == 2
