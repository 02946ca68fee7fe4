"""Hypothesis profiles and the in-process app the fuzz tests drive.

`ci` (the default) is derandomized with a small example budget so `make test` is reproducible and fast;
`HYPOTHESIS_PROFILE=long` searches randomly and much deeper for local runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, Phase, settings

from tests.conftest import make_settings
from tests.fuzz.harness import Harness

_QUIET = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large,
          HealthCheck.filter_too_much]
# No explain phase in CI: it re-runs a failing test hundreds of times to annotate it, which is for local runs.
settings.register_profile("ci", max_examples=30, phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
                          deadline=None, derandomize=True, database=None,
                          suppress_health_check=_QUIET, print_blob=True)
settings.register_profile("long", max_examples=2000, deadline=None, suppress_health_check=_QUIET, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    """One app per test module (SQLite temp file): examples accumulate data, which is what a server sees."""
    h = Harness(make_settings())
    yield h
    h.close()


@pytest.fixture(scope="module")
def traced() -> Iterator[Harness]:
    """Like `harness`, with tracemalloc on so each answer carries the request's peak Python allocation."""
    h = Harness(make_settings(), trace_memory=True)
    yield h
    h.close()
