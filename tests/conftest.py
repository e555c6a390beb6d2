"""Test set-up: figures closed after each test, hypothesis profiles (see also ../conftest.py)."""

import os

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

# `make test` runs a few hundred examples per property; `make test-fast` a few dozen.
# The "ci" profile is derandomized so that a grading or CI run is reproducible:
# the same examples every time, on every machine.
settings.register_profile(
    "ci", max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "fast", max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")
