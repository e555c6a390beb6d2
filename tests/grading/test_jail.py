"""The jail's capability probe: it reports namespaces only when the read-only root was built."""

from __future__ import annotations

import sys

import pytest

from convkit.grade import jail
from convkit.grade.sandbox import capabilities

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the namespace jail is Linux only")


def test_namespaces_are_reported_when_the_root_is_built():
    found = capabilities()
    if not found["namespaces"]:
        pytest.skip(f"this machine offers no namespace jail: {found}")
    assert found["level"] == "namespaces"


def test_a_root_that_cannot_be_built_means_no_namespace_jail(monkeypatch):
    def broken(limits, slot, root):
        raise OSError("mount refused")

    # The probe forks, so the broken builder reaches the jailed init through the copied memory.
    monkeypatch.setattr(jail, "_build_jail", broken)
    found = capabilities()
    assert found["namespaces"] is False
    assert found["level"] == "process"
