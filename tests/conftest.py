"""Shared test set-up: headless matplotlib, offline data, hypothesis profiles."""
import os

os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

# `make test` runs a few hundred examples per property; `make test-fast` a few dozen.
settings.register_profile("ci", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fast", max_examples=30, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# nothing downloads during the tests
os.environ.setdefault("CONVKIT_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")
