"""Shared fixtures and Hypothesis settings."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

import llmcatalog as lc

# Hypothesis profiles. CI (``CI`` set, or ``HYPOTHESIS_PROFILE=ci`` as .ci/run does) is deterministic:
# derandomized, a fixed example budget, no example database -- a red CI is a real failure that
# reproduces. Local runs ("dev", the default elsewhere) keep exploring new examples on every run
# (``--hypothesis-seed=N`` replays a run) and remember failures in .hypothesis/ to replay them first.
settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="session")
def catalog() -> lc.Catalog:
    """The catalog built from the installed plugins (built-ins only: third parties switched off)."""
    os.environ["LLMCATALOG_DISABLE_PLUGINS"] = "1"
    lc.clear_cache()
    try:
        return lc.catalog(strict=True)
    finally:
        del os.environ["LLMCATALOG_DISABLE_PLUGINS"]
        lc.clear_cache()


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Tests that install fake plugins must not leak a cached catalog into other tests."""
    yield
    lc.clear_cache()


settings.register_profile("thorough", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))
