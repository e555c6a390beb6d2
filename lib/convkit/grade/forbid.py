"""Forbidden calls: notice, by identity, when an answer calls a function it must not use.

An *implement* question asks for something written from scratch, so while the
student's function runs, the calls that would answer it (``convkit.reference.*``,
``torch.nn.functional.conv2d``, ``np.convolve``, ...) are not allowed. A name in a
module can be aliased (``from torch.nn.functional import conv2d as c``), so the
watcher does not look at names: a profile hook (:func:`sys.setprofile`) sees every
function actually entered, and compares

- Python functions by their code object, and whole modules by the module the entered
  code belongs to (``frame.f_globals["__name__"]``);
- built-in functions (``torch.conv2d``) by the function object itself.

The first forbidden call is reported to ``on_hit`` (in the grader: written to the
results channel at once, so catching the exception changes nothing) and then raised
as :class:`ForbiddenCall`. While watching, an audit hook refuses what would switch the
watcher off or get around it: ``sys.setprofile``/``sys.settrace``, replacing a
function's code, ``gc`` object walks, ``ctypes``, and starting threads or processes.

Examples
--------
>>> import numpy as np
>>> with watching(["numpy.convolve"]):
...     np.convolve([1.0, 2.0], [1.0])
Traceback (most recent call last):
    ...
convkit.grade.forbid.ForbiddenCall: numpy.convolve
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

__all__ = ["ForbiddenCall", "Forbidden", "resolve", "watching"]

# Starting a thread or a process while watched would run code the profile hook never sees.
_ALWAYS = (
    "_thread.start_new_thread",
    "_thread.start_joinable_thread",
    "os.fork",
    "os.system",
    "os.posix_spawn",
    "subprocess.Popen",
)
_REFUSED_EVENTS = (
    "sys.setprofile",
    "sys.settrace",
    "gc.get_objects",
    "gc.get_referrers",
    "gc.get_referents",
    "ctypes.dlopen",
    "ctypes.dlsym",
    "ctypes.call_function",
    "ctypes.cdata",
    "os.fork",
    "os.forkpty",
    "os.system",
    "os.posix_spawn",
    "os.exec",
    "os.spawn",
    "subprocess.Popen",
    "sys._current_frames",
)


# Convolutions reached through torch.ops.aten.* skip the Python functions named above.
_CONV_OPS = (
    "conv1d",
    "conv2d",
    "conv3d",
    "convolution",
    "_convolution",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "conv_tbc",
    "_convolution_mode",
)
_ATEN = {
    "torch.nn.functional.conv": _CONV_OPS,
    "torch.nn.Conv": _CONV_OPS,
    "torch.nn.functional.unfold": ("im2col",),
}


def _op_name(op: object) -> str | None:
    try:
        return op.name() if callable(getattr(op, "name", None)) else None
    except Exception:
        return None


class ForbiddenCall(BaseException):
    """Raised in student code that calls a forbidden function (a BaseException: ``except Exception`` misses it)."""


class Forbidden:
    """The identities a list of dotted names stands for.

    Parameters
    ----------
    names : iterable of str
        ``"package.module"`` (everything defined in it or below it), ``"module.function"``,
        or ``"module.Class"`` (every method of the class). Names that cannot be imported
        here are skipped: a package that is not installed cannot be called either.
    """

    def __init__(self, names: Iterable[str]) -> None:
        self.codes: dict[types.CodeType, str] = {}
        self.builtins: dict[int, tuple[object, str]] = {}
        self.modules: list[tuple[str, str]] = []
        self.ops: dict[str, str] = {}  # "aten::conv2d" -> the name that forbids it
        self.op_calls: set[types.CodeType] = set()
        self._module_cache: dict[str, str | None] = {}
        for name in names:
            self._add(name)
        if self.ops:
            ops = sys.modules.get("torch._ops")
            for kind in ("OpOverloadPacket", "OpOverload"):
                call = vars(getattr(ops, kind, object)).get("__call__")
                if isinstance(getattr(call, "__code__", None), types.CodeType):
                    self.op_calls.add(call.__code__)

    def _add(self, name: str) -> None:
        for prefix, ops in _ATEN.items():  # the same operation reached through torch.ops.aten
            if name == prefix or name.startswith(prefix):
                self.ops.update((f"aten::{op}", name) for op in ops)
        if _is_module(name):  # known by its name: importing it here could cost seconds (scipy.signal)
            self.modules.append((name, name))
            return
        target = resolve(name)
        if target is None:
            return
        if isinstance(target, types.ModuleType):
            self.modules.append((target.__name__, name))
        elif isinstance(target, type):
            for value in vars(target).values():
                self._add_callable(getattr(value, "__func__", value), name)
        else:
            self._add_callable(target, name)

    def _add_callable(self, value: object, name: str) -> None:
        seen = 0
        while value is not None and seen < 5:  # follow decorators' __wrapped__
            code = getattr(value, "__code__", None)
            if isinstance(code, types.CodeType):
                self.codes[code] = name
            elif isinstance(value, (types.BuiltinFunctionType, types.BuiltinMethodType)):
                self.builtins[id(value)] = (value, name)  # keep it alive: ids stay unique
            value, seen = getattr(value, "__wrapped__", None), seen + 1

    def module_of(self, module: str | None) -> str | None:
        """The forbidding name if ``module`` is (inside) a forbidden module, else ``None``."""
        if not module or not self.modules:
            return None
        try:
            return self._module_cache[module]
        except KeyError:
            pass
        found = next(
            (name for prefix, name in self.modules if module == prefix or module.startswith(prefix + ".")),
            None,
        )
        self._module_cache[module] = found
        return found

    def __bool__(self) -> bool:
        return bool(self.codes or self.builtins or self.modules)


_MODULE_NAMES: dict[str, bool] = {}


def _is_module(name: str) -> bool:
    """Whether ``name`` is a module, imported or not, found without importing it (cached per name)."""
    known = _MODULE_NAMES.get(name)
    if known is None:
        if isinstance(sys.modules.get(name), types.ModuleType):
            known = True
        else:
            try:
                known = importlib.util.find_spec(name) is not None
            except (ImportError, ValueError, AttributeError):
                known = False
        _MODULE_NAMES[name] = known
    return known


def resolve(name: str) -> object | None:
    """The module, class or function a dotted name stands for, or ``None`` if not importable.

    >>> resolve("numpy.convolve").__name__
    'convolve'
    >>> resolve("no.such.thing") is None
    True
    """
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attribute in parts[cut:]:
                target = getattr(target, attribute)
        except AttributeError:
            return None
        return target
    return None


@contextmanager
def watching(names: Iterable[str], on_hit: Callable[[str], None] | None = None) -> Iterator[None]:
    """Within the block, a call to anything ``names`` stands for raises :class:`ForbiddenCall`.

    Starting threads and processes, and switching the watcher off, are refused too
    (the message names what was called). ``on_hit(name)`` runs before the raise.
    """
    forbidden = Forbidden(list(names) + list(_ALWAYS))
    hits: list[str] = []
    active = [False]
    setprofile = sys.setprofile

    def hit(name: str) -> None:
        active[0] = False  # the answer has failed; unwinding may switch the profile off
        if not hits:
            hits.append(name)
            if on_hit is not None:
                on_hit(name)
        raise ForbiddenCall(name)

    def profile(frame, event, arg):
        if event == "call":
            code = frame.f_code
            name = forbidden.codes.get(code) or forbidden.module_of(frame.f_globals.get("__name__"))
            if name is None and code in forbidden.op_calls:  # torch.ops.aten.X(...)
                name = forbidden.ops.get(
                    getattr(frame.f_locals.get("self"), "_qualified_op_name", None)
                    or _op_name(frame.f_locals.get("self"))
                )
            if name:
                hit(name)
        elif event == "c_call":
            entry = forbidden.builtins.get(id(arg))
            if entry is not None and entry[0] is arg:
                hit(entry[1])
            elif forbidden.modules:
                name = forbidden.module_of(getattr(arg, "__module__", None))
                if name:
                    hit(name)

    def audit(event, args):
        if active[0] and event in _REFUSED_EVENTS:
            hit(event)
        if active[0] and event == "object.__setattr__" and len(args) > 1 and args[1] == "__code__":
            hit("replacing a function's __code__")

    # What the profile hook relies on, to see afterwards that nobody swapped or emptied it.
    cells = tuple(cell.cell_contents for cell in profile.__closure__)
    sizes = (len(forbidden.codes), len(forbidden.builtins), len(forbidden.modules), len(forbidden.ops))
    previous = _set_audit_target(audit)
    setprofile(profile)
    active[0] = True
    try:
        yield
    finally:
        intact = (
            sys.getprofile() is profile
            and all(cell.cell_contents is kept for cell, kept in zip(profile.__closure__, cells))
            and sizes
            == (len(forbidden.codes), len(forbidden.builtins), len(forbidden.modules), len(forbidden.ops))
        )
        switched_off = not active[0]
        active[0] = False
        setprofile(None)
        _set_audit_target(previous)
        if not intact and not switched_off and not hits:
            hit("tampering with the call watcher")


# sys.addaudithook cannot be undone: the process gets one hook, installed on first use, which
# forwards each event to the watcher of the innermost ``watching`` block (or to nobody).
_audit = {"installed": False, "target": None}
_audit_lock = threading.Lock()


def _forward(event, args) -> None:
    target = _audit["target"]
    if target is not None:
        target(event, args)


def _set_audit_target(target):
    """Make ``target`` receive the audit events (installing the one hook if needed); return the previous one."""
    with _audit_lock:
        if not _audit["installed"]:
            sys.addaudithook(_forward)
            _audit["installed"] = True
        previous, _audit["target"] = _audit["target"], target
        return previous
