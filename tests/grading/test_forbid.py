"""The call watcher (:mod:`convkit.grade.forbid`) on its own: what it refuses, and what it leaves behind."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from convkit.grade.forbid import ForbiddenCall, watching


def test_an_aliased_function_is_refused_by_identity_not_by_name():
    from numpy import convolve as smooth

    with pytest.raises(ForbiddenCall, match="numpy.convolve"):
        with watching(["numpy.convolve"]):
            smooth([1.0, 2.0], [1.0])


def test_a_forbidden_builtin_reached_through_torch_is_refused():
    import torch

    x = torch.zeros(1, 1, 4)
    with pytest.raises(ForbiddenCall, match="torch.nn.functional.conv1d"):
        with watching(["torch.nn.functional.conv1d"]):
            torch.conv1d(x, torch.zeros(1, 1, 2))


def test_catching_base_exception_still_leaves_the_hit_reported():
    hits = []

    def answer():
        try:
            np.convolve([1.0], [1.0])
        except BaseException:  # the student swallows everything
            pass
        return "done"

    with watching(["numpy.convolve"], on_hit=hits.append):
        assert answer() == "done"
    assert hits == ["numpy.convolve"]


def test_calls_that_are_not_forbidden_run_normally():
    with watching(["numpy.convolve"]):
        assert np.correlate([1.0, 2.0], [1.0]).tolist() == [1.0, 2.0]


@pytest.mark.parametrize(
    "attempt, event",
    [
        ("sys.setprofile(None)", "sys.setprofile"),
        ("sys.settrace(None)", "sys.settrace"),
        ("gc.get_objects()", "gc.get_objects"),
        ("sys._current_frames()", "sys._current_frames"),
        ("(lambda: 0).__code__ = (lambda: 1).__code__", "__code__"),
    ],
)
def test_switching_the_watcher_off_or_around_it_is_refused(attempt, event):
    import gc  # noqa: F401  (used by the attempt)

    with pytest.raises(ForbiddenCall, match=event.replace(".", r"\.")):
        with watching([]):
            exec(attempt, {"sys": sys, "gc": __import__("gc")})


def test_the_watcher_is_off_again_after_the_block():
    with watching(["numpy.convolve"]):
        pass
    assert sys.getprofile() is None
    assert np.convolve([1.0], [2.0]).tolist() == [2.0]
    sys.setprofile(None)  # refused only while watching


def test_a_hundred_blocks_install_exactly_one_audit_hook():
    # A fresh interpreter counts sys.addaudithook calls: no hook can be removed once added,
    # so each extra one would slow every later open, import and exec in the student's kernel.
    script = textwrap.dedent(
        """
        import sys
        count = [0]
        original = sys.addaudithook
        def counting(hook):
            count[0] += 1
            original(hook)
        sys.addaudithook = counting
        from convkit.grade.forbid import watching
        for _ in range(100):
            with watching(["numpy.convolve"]):
                pass
        print(count[0])
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"


def test_an_audit_event_after_the_block_reaches_no_watcher():
    from convkit.grade import forbid

    with watching([]):
        assert forbid._audit["target"] is not None
    assert forbid._audit["target"] is None
