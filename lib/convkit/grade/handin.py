"""What a student handed in: the exercise notebooks in their folder, however they were named or packed.

Runs in the grading process, before any student code runs, and is a pure function of the
student's folder (:func:`read_folder`): nothing there is executed, written, extracted or
followed.

- **Identity.** A notebook is recognised by the identity ``make exercises`` writes into
  its metadata (``metadata.convkit.notebook``, :data:`convkit.grade.generate.IDENTITY`),
  whatever its file name: ``02_convolution_1d (1).ipynb``, ``week2.ipynb``, or in a
  subfolder. Only a notebook without that identity is recognised by its file name (the
  exercise's name, or that name with a suffix such as `` (1)`` or ``-Copy1``), and the
  feedback says so.
- **Zip files** are read into memory and opened with :mod:`zipfile`; their notebooks
  count as if handed in loose. A member is never used when its path leaves the archive
  (absolute, ``..``, a drive letter), nor followed when it is a link; a zip inside the
  zip is not opened. Limits on the archive's size, its member count, its total
  unpacked size, each notebook's size and each member's compression ratio stop a zip
  bomb before it is unpacked, and a member's reading is capped by its size, not its
  header. A corrupt zip is one line in the feedback. What is read of one folder in all
  (zips and notebooks) is capped too.
- **Duplicates.** When several files claim the same notebook, the newest (modification
  time; for a zip member, its date and time) is graded, and the feedback names them all.
  A file that carries the identity is graded before one recognised by its name only.

Every file found that is not graded is listed with the reason (:attr:`Handin.not_graded`).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import stat
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from convkit.grade.generate import IDENTITY
from convkit.grade.model import NOTEBOOKS

__all__ = ["Claim", "Handin", "read_folder", "claims_in_zip", "leaves_archive", "LIMITS"]

_MB = 2**20


@dataclass(frozen=True)
class _Limits:
    notebook_bytes: int = 20 * _MB  # one notebook, loose or zipped
    zip_bytes: int = 100 * _MB  # one zip file, as stored
    zip_members: int = 1000  # entries of one zip
    zip_unpacked: int = 200 * _MB  # all members of one zip, as their headers declare
    ratio: int = 100  # unpacked / compressed, for a member larger than ratio_floor
    ratio_floor: int = 1 * _MB
    files: int = 2000  # entries looked at in one student's folder, zips' members included
    folder_bytes: int = 300 * _MB  # read from one student's folder in all: zips and their notebooks
    depth: int = 3  # folders below the student's folder that are looked into


#: The limits :func:`read_folder` applies (sizes in bytes).
LIMITS = _Limits()


@dataclass(frozen=True)
class Claim:
    """One file that claims to be an exercise notebook.

    ``shown`` is its path in the student's folder (``/``-separated; a zip member as
    ``hw.zip/week2/02.ipynb``), ``by`` how it was recognised (``"metadata"`` or
    ``"file name"``), ``when`` its modification time in seconds since the epoch, and
    ``text`` its JSON text, or ``None`` with ``problem`` saying why it cannot be read.
    """

    notebook: str
    shown: str
    by: str
    when: float
    text: str | None
    problem: str = ""


@dataclass
class Handin:
    """What one student's folder holds, read before any student code runs.

    ``graded`` maps an exercise file name (:data:`NOTEBOOKS`) to the claim graded for it;
    ``passed_over`` to the other claims of the same notebook (older copies), newest first;
    ``not_graded`` lists every other file found, as ``(shown, reason)``; ``found`` every
    file found, in the order walked.
    """

    graded: dict[str, Claim] = field(default_factory=dict)
    passed_over: dict[str, list[Claim]] = field(default_factory=dict)
    not_graded: list[tuple[str, str]] = field(default_factory=list)
    found: list[str] = field(default_factory=list)

    def files_not_graded(self, notebooks=NOTEBOOKS) -> list[tuple[str, str]]:
        """Every file not graded with the reason, older copies of ``notebooks`` included."""
        older = [
            (c.shown, _passed_over(name, c, self.graded[name]))
            for name in NOTEBOOKS
            if name in notebooks
            for c in self.passed_over.get(name, [])
        ]
        return older + self.not_graded

    def digest(self, notebooks=NOTEBOOKS) -> str:
        """A SHA-256 (hex) of everything graded and said about ``notebooks``: each graded file's
        name, how it was recognised and its text, the older copies, the files not graded and,
        when a notebook is missing, the files found."""
        parts = []
        for name in notebooks:
            claim = self.graded.get(name)
            if claim is None:
                parts.append([name, None, sorted(self.found)])
            else:
                body = hashlib.sha256((claim.text or f"-{claim.problem}").encode("utf-8", "surrogatepass"))
                parts.append([name, claim.shown, claim.by, body.hexdigest()])
        parts.append(sorted(self.files_not_graded(notebooks)))
        text = json.dumps(parts, ensure_ascii=True)
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _passed_over(name: str, claim: Claim, graded: Claim) -> str:
    """Why ``claim`` is not graded as ``name`` while ``graded`` is."""
    if claim.by != graded.by:
        return f"also named as {name}, but {graded.shown}, which is graded, carries the exercise's identity"
    if claim.text is None and graded.text is not None:
        return f"another {name}, which could not be read; {graded.shown} is graded"
    return f"an older copy of {name} than {graded.shown}, which is graded"


_BY_STEM = {Path(name).stem: name for name in NOTEBOOKS}
_COPY_SUFFIX = re.compile(r"(?:[ _-]*\(\d+\)|[ _-]*copy\d*|[ _-]+\d+)$", re.IGNORECASE)


def _by_file_name(base: str) -> str | None:
    """The exercise a file name names: its own name, or with a copy's suffix (`` (1)``, ``-Copy1``).

    >>> _by_file_name("02_convolution_1d (1).ipynb"), _by_file_name("02_convolution_1d-Copy1.ipynb")
    ('02_convolution_1d.ipynb', '02_convolution_1d.ipynb')
    >>> _by_file_name("week2.ipynb"), _by_file_name("02_convolution_1d_mine.ipynb")
    (None, None)
    """
    if not base.endswith(".ipynb"):
        return None
    stem = base[: -len(".ipynb")]
    for _ in range(3):  # "name (1)-Copy1" at most
        if stem in _BY_STEM:
            return _BY_STEM[stem]
        stem = _COPY_SUFFIX.sub("", stem, count=1)
    return _BY_STEM.get(stem)


def _identity(text: str) -> str | None:
    """The exercise named in a notebook's metadata, ``"?<name>"`` for a name not known, or None."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        return None
    metadata = document.get("metadata") if type(document) is dict else None
    mine = metadata.get(IDENTITY) if type(metadata) is dict else None
    stem = mine.get("notebook") if type(mine) is dict else None
    if type(stem) is not str:
        return None
    return _BY_STEM.get(stem, "?" + stem[:80])


def leaves_archive(member: str) -> bool:
    """Whether a zip member's path would leave the folder it is unpacked in.

    Absolute paths, ``..`` anywhere, and drive letters or UNC names (with either slash) all do.

    >>> [leaves_archive(p) for p in ("a/b.ipynb", "../b.ipynb", "/etc/x", "C:x", "a\\\\..\\\\..\\\\b", "//host/x")]
    [False, True, True, True, True, True]
    """
    path = member.replace("\\", "/")
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        return True
    return ".." in path.split("/")


class _Walk:
    """The state of one folder's reading: the claims so far, the files not graded, the count."""

    def __init__(self) -> None:
        self.claims: list[Claim] = []
        self.not_graded: list[tuple[str, str]] = []
        self.found: list[str] = []
        self.count = 0
        self.read = 0  # bytes read so far

    def full(self) -> bool:
        return self.count >= LIMITS.files

    def over(self, size: int) -> str:
        """Why ``size`` more bytes are not read ("is not read: ..."), or "" to read them."""
        if self.read + size <= LIMITS.folder_bytes:
            return ""
        return f"is not read: the files before it reach the limit of {LIMITS.folder_bytes // _MB} MB for one folder"

    def skip(self, shown: str, reason: str) -> None:
        self.found.append(shown)
        self.not_graded.append((shown, reason))

    def notebook(self, shown: str, base: str, when: float, text: str | None, problem: str = "") -> None:
        """A ``.ipynb`` file: a claim by its metadata, else by its file name, else not graded.

        ``problem`` says why ``text`` is None, of the file ("is a link, not a file").
        """
        self.found.append(shown)
        named = _by_file_name(base)
        identity = _identity(text) if text is not None else None
        if identity is not None and identity.startswith("?"):
            self.not_graded.append(
                (shown, f"its metadata names an exercise this course does not have ({identity[1:]})")
            )
        elif identity is not None:
            self.claims.append(Claim(identity, shown, "metadata", when, text))
        elif named is not None:
            said = f"{shown} {problem}: not graded" if problem else ""
            self.claims.append(Claim(named, shown, "file name", when, text, said))
        elif problem:
            self.not_graded.append((shown, problem.removeprefix("is ")))
        else:
            self.not_graded.append(
                (shown, "not an exercise notebook: neither its metadata nor its name names an exercise")
            )


def _too_large(size: int) -> str:
    return f"is too large ({size / _MB:.0f} MB; the limit is {LIMITS.notebook_bytes // _MB} MB)"


def _read_capped(handle, limit: int) -> bytes | None:
    """At most ``limit`` bytes from a binary file object, or None if it holds more."""
    chunks, total = [], 0
    while True:
        chunk = handle.read(min(1 << 20, limit + 1 - total))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            return None


def _read_file(path: str, limit: int) -> tuple[float, bytes] | int | str:
    """``(mtime, bytes)`` of a regular file opened without following a link; its size if over
    ``limit``; else why it is not read, said of the file ("is a link, not a file")."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        return (
            "is a link, not a file" if os.path.islink(path) else f"could not be read ({type(error).__name__})"
        )
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return "is not a regular file"
        if info.st_size > limit:
            return info.st_size
        try:
            data = _read_capped(handle, limit)
        except OSError as error:
            return f"could not be read ({type(error).__name__})"
    return (info.st_mtime, data) if data is not None else f"grew past {limit // _MB} MB while it was read"


def _member_time(info: zipfile.ZipInfo) -> float:
    """A zip member's date and time (local time, as zip tools store it) in seconds since the epoch."""
    try:
        return time.mktime(tuple(info.date_time) + (0, 0, -1))
    except (OverflowError, ValueError):
        return 0.0


def _zip_problem(member: zipfile.ZipInfo) -> str:
    """Why a notebook member is not unpacked, said of it, or "" to unpack it."""
    if member.flag_bits & 0x1:
        return "is encrypted"
    if member.file_size > LIMITS.notebook_bytes:
        return _too_large(member.file_size)
    if member.file_size > LIMITS.ratio_floor and member.file_size > LIMITS.ratio * max(
        member.compress_size, 1
    ):
        return f"is compressed more than {LIMITS.ratio}:1 (a zip bomb?)"
    return ""


def claims_in_zip(data: bytes, shown: str, walk: _Walk | None = None) -> _Walk:
    """Read the notebooks in one zip file's bytes (the file ``shown``) into ``walk``, in memory only."""
    walk = walk if walk is not None else _Walk()
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except Exception as error:  # any damage: the zip is one line in the feedback
        walk.skip(
            shown, f"a zip file that could not be opened ({type(error).__name__}): nothing in it graded"
        )
        return walk
    if len(members) > LIMITS.zip_members:
        walk.skip(shown, f"a zip of {len(members)} entries (the limit is {LIMITS.zip_members}): not opened")
        return walk
    unpacked = sum(m.file_size for m in members)
    if unpacked > LIMITS.zip_unpacked:
        walk.skip(
            shown,
            f"a zip that would unpack to {unpacked / _MB:.0f} MB (the limit is "
            f"{LIMITS.zip_unpacked // _MB} MB): not opened",
        )
        return walk
    walk.found.append(shown)
    hidden: set[str] = set()
    for member in members:
        if member.is_dir():
            continue
        walk.count += 1
        if walk.full():
            walk.skip(f"{shown}/…", f"more than {LIMITS.files} files: the rest not looked at")
            break
        where = f"{shown}/{member.filename}"
        parts = [p for p in member.filename.replace("\\", "/").split("/") if p]
        if leaves_archive(member.filename):
            walk.skip(where, "its path leaves the zip (absolute, .. or a drive letter): not used")
            continue
        if stat.S_ISLNK(member.external_attr >> 16):
            walk.skip(where, "a link inside the zip: not followed")
            continue
        dots = [k for k, p in enumerate(parts) if p.startswith(".") or p == "__MACOSX"]
        if dots:
            key = f"{shown}/{'/'.join(parts[: dots[0] + 1])}"
            if key not in hidden:  # one line for a whole hidden folder
                hidden.add(key)
                walk.skip(key, "hidden (its name starts with a dot, or is __MACOSX): not graded")
            continue
        if len(parts) > LIMITS.depth + 1:
            walk.skip(where, f"more than {LIMITS.depth} folders deep: not looked at")
            continue
        base = parts[-1]
        if base.lower().endswith(".zip"):
            walk.skip(where, "a zip inside the zip: not opened")
            continue
        if not base.endswith(".ipynb"):
            walk.skip(where, "not a notebook")
            continue
        when, problem = _member_time(member), _zip_problem(member) or walk.over(member.file_size)
        if problem:
            walk.notebook(where, base, when, None, problem)
            continue
        try:
            with archive.open(member) as handle:
                body = _read_capped(handle, member.file_size)
        except Exception as error:  # a bad CRC, an unknown compression method, a truncated member
            walk.notebook(where, base, when, None, f"could not be read from the zip ({type(error).__name__})")
            continue
        if body is None:
            walk.notebook(where, base, when, None, "holds more than its zip entry says")
            continue
        walk.read += len(body)
        walk.notebook(where, base, when, body.decode("utf-8", errors="replace"))
    return walk


def _walk(folder: str, prefix: str, depth: int, walk: _Walk) -> None:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as error:
        walk.skip(prefix or ".", f"the folder could not be read ({type(error).__name__})")
        return
    for entry in entries:
        walk.count += 1
        if walk.full():
            walk.skip(f"{prefix}…", f"more than {LIMITS.files} files: the rest not looked at")
            return
        shown = prefix + entry.name
        if entry.is_symlink():
            if entry.name.endswith(".ipynb"):
                walk.notebook(shown, entry.name, 0.0, None, "is a link, not a file")
            else:
                walk.skip(shown, "a link: not followed")
        elif entry.name.startswith("."):
            walk.skip(shown, "hidden (its name starts with a dot): not graded")
        elif entry.is_dir():
            if depth >= LIMITS.depth:
                walk.skip(shown + "/", f"more than {LIMITS.depth} folders deep: not looked into")
            else:
                _walk(entry.path, shown + "/", depth + 1, walk)
        elif entry.name.endswith(".ipynb"):
            read = _read_file(entry.path, min(LIMITS.notebook_bytes, LIMITS.folder_bytes - walk.read))
            if isinstance(read, int) and read <= LIMITS.notebook_bytes:
                walk.notebook(shown, entry.name, 0.0, None, walk.over(read))
            elif isinstance(read, int):
                walk.notebook(shown, entry.name, 0.0, None, _too_large(read))
            elif isinstance(read, str):
                walk.notebook(shown, entry.name, 0.0, None, read)
            else:
                walk.read += len(read[1])
                walk.notebook(shown, entry.name, read[0], read[1].decode("utf-8", errors="replace"))
        elif entry.name.lower().endswith(".zip"):
            read = _read_file(entry.path, min(LIMITS.zip_bytes, LIMITS.folder_bytes - walk.read))
            if isinstance(read, int) and read <= LIMITS.zip_bytes:
                walk.skip(shown, walk.over(read).removeprefix("is "))
            elif isinstance(read, int):
                walk.skip(shown, f"a zip of {read / _MB:.0f} MB (the limit is {LIMITS.zip_bytes // _MB} MB)")
            elif isinstance(read, str):
                walk.skip(shown, read.removeprefix("is "))
            else:
                walk.read += len(read[1])
                claims_in_zip(read[1], shown, walk)
        else:
            walk.skip(shown, "not a notebook")


def read_folder(folder: str | os.PathLike) -> Handin:
    """Everything one student handed in: per exercise the file graded, and every other file with its reason.

    Looks into subfolders (at most ``LIMITS.depth`` deep) and zip files; never follows
    a link, never runs or unpacks anything to disk.
    """
    walk = _Walk()
    _walk(os.fspath(folder), "", 0, walk)
    handin = Handin(not_graded=walk.not_graded, found=walk.found)
    for name in NOTEBOOKS:
        mine = [c for c in walk.claims if c.notebook == name]
        if mine:
            # A file that can be read first, then one that carries the identity (a copy of the course's
            # notebooks or solutions beside the exercises has the same names, never the identity),
            # then the newest; ties by where.
            mine.sort(key=lambda c: (c.text is not None, c.by == "metadata", c.when, c.shown), reverse=True)
            handin.graded[name], handin.passed_over[name] = mine[0], mine[1:]
    return handin
