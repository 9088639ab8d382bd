"""The bytes of a plan file (schema version 3): one JSON document, one record per line.

::

    {"schema_version":3,
    "fingerprint":{...},               a member: one compact line
    "merges":[                         a section: one row per line,
    ["a1","s1","auto",...],            each followed by a comma but the last
    ["a2","s2","review",...]
    ],
    ...
    "digest":"sha256:<hex>"}

The layout is what makes a plan readable as a stream: a reader finds each
section by its opening line and parses one row at a time, never the whole
document. The ``digest`` is the SHA-256 of every byte before its line, so it
is checked by hashing the file as it is read, without parsing it. Any JSON
tool still reads the file as one document; one that rewrote it (re-indented,
keys reordered) is read through :func:`canonical_digest` instead, which
writes the document back in this layout to check the digest.

A file whose name ends in ``.gz`` is written gzip-compressed (reproducibly:
no name or time in the gzip header); reading recognises gzip by its magic
bytes, whatever the name. Values only, no plan semantics: :mod:`merge_engine.plan`
says what the members and rows mean.
"""

from __future__ import annotations

import gzip
import json
import json.encoder
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import islice
from pathlib import Path
from typing import IO, Any, TypeVar, cast

from .exceptions import PlanError

__all__ = [
    "HEAD",
    "PlanWriter",
    "ScannedPlan",
    "canonical_digest",
    "dumps",
    "is_gzip",
    "json_string",
    "kind",
    "legacy_digest",
    "open_plan_bytes",
    "parse_entries",
]

HEAD = b'{"schema_version":3,\n'
_DIGEST = b'"digest":"'
_GZIP_MAGIC = b"\x1f\x8b"
#: Rows between two remembered positions of a section (for reading it backwards).
STRIDE = 20_000
#: gzip level 1: a few times faster than the default 6 and only a little larger on plans.
GZIP_LEVEL = 1
_BUFFER = 1 << 20
#: Rows of a section encoded before they are joined and written.
_BATCH_ROWS = 2048
#: Sections parsed while a file is scanned: small, and needed before any row is read.
KEPT = ("evidence", "shared_targets", "warnings")


def _compact_encoder() -> Callable[[Any], str]:
    """``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``, with
    json's C encoder made once: ``json.dumps`` builds a new encoder on every call, which
    costs more than encoding a plan row (a 150k plan has 300,000 rows)."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # an interpreter without json's C speedups
        return lambda value: json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
    encode = make(
        None,  # no cycle check: rows and members are fresh lists and dicts, never cyclic
        json.JSONEncoder().default,  # raises TypeError for what JSON cannot hold
        json.encoder.encode_basestring,  # ensure_ascii=False
        None,  # no indent
        ":",
        ",",
        True,  # sort_keys
        False,  # skipkeys
        True,  # allow_nan, as json.dumps
    )
    return lambda value: "".join(encode(value, 0))


#: Compact JSON with sorted keys: the same value always gives the same text.
dumps: Callable[[Any], str] = _compact_encoder()
#: A string's JSON text, as :data:`dumps` writes it (for rows made from pieces of text).
json_string: Callable[[str], str] = json.encoder.encode_basestring


def is_gzip(path: str | Path) -> bool:
    """Whether the plan at ``path`` is to be written compressed (its name ends in ``.gz``)."""
    return str(path).lower().endswith(".gz")


def open_plan_bytes(path: str | Path) -> IO[bytes]:
    """``path`` opened for reading its uncompressed bytes (gzip recognised by its magic)."""
    with open(path, "rb") as raw:
        compressed = raw.read(2) == _GZIP_MAGIC
    if compressed:
        return cast(IO[bytes], gzip.open(path, "rb"))
    return open(path, "rb")


class _Sink:
    """Where a writer's bytes go: hashed, and sent to a file in large pieces (or kept)."""

    def __init__(self, out: IO[bytes] | None, *, keep: bool = True) -> None:
        self.out = out
        self.keep = keep
        import hashlib  # noqa: PLC0415  (OpenSSL, 3.5 MB: loaded when a plan is written)

        self.hash = hashlib.sha256()
        self.parts: list[bytes] = []
        self.size = 0

    def write(self, data: bytes) -> None:
        self.hash.update(data)
        if not self.keep:
            return
        self.parts.append(data)
        self.size += len(data)
        if self.out is not None and self.size > _BUFFER:
            self.flush()

    def flush(self) -> None:
        if self.out is not None:
            self.out.write(b"".join(self.parts))
            self.parts.clear()
            self.size = 0


class PlanWriter:
    """Writes the layout above, member by member and section by section, as they come.

    With a ``path`` the document goes to ``<path>.tmp`` (gzip-compressed when the
    name ends in ``.gz``) and is renamed into place by :meth:`close`; without one
    it is kept in memory (or, with ``keep=False``, only hashed) and :meth:`close`
    returns its text. Nothing but the current rows is held, so a plan can be
    written while it is produced.
    """

    def __init__(self, path: str | Path | None = None, *, keep: bool = True) -> None:
        self.path = None if path is None else Path(path)
        self._raw: IO[bytes] | None = None
        self._zip: gzip.GzipFile | None = None
        out: Any = None
        if self.path is not None:
            self._tmp = self.path.with_name(self.path.name + ".tmp")
            self._raw = self._tmp.open("wb")
            out = self._raw
            if is_gzip(self.path):
                self._zip = gzip.GzipFile(
                    filename="", mode="wb", fileobj=self._raw, compresslevel=GZIP_LEVEL, mtime=0
                )
                out = self._zip
        self._out = out
        self._sink = _Sink(out, keep=keep or out is not None)
        self._sink.write(HEAD)

    def member(self, key: str, value: Any) -> None:
        """One member on one line."""
        self._sink.write(f"{json.dumps(key)}:{dumps(value)},\n".encode())

    def section(self, key: str, rows: Iterable[Any]) -> int:
        """A section: each row on its own line; returns how many rows there were."""
        return self.lines(key, map(dumps, rows))

    def lines(self, key: str, lines: Iterable[str]) -> int:
        """A section of rows already encoded (each row's JSON text, :data:`dumps`'s);
        returns how many rows there were."""
        rows = iter(lines)
        # Rows are joined and hashed a batch at a time.
        batches = iter(lambda: list(islice(rows, _BATCH_ROWS)), [])
        return self.joined(key, ((len(b), ",\n".join(b)) for b in batches))

    def joined(self, key: str, chunks: Iterable[tuple[int, str]]) -> int:
        """A section of rows already encoded, in chunks: how many rows each holds and their
        text joined by ``",\\n"``. Returns how many rows there were."""
        write = self._sink.write
        write(f"{json.dumps(key)}:[\n".encode())
        count = 0
        for rows, text in chunks:
            if rows:
                write(((",\n" if count else "") + text).encode())
                count += rows
        write(b"\n],\n" if count else b"],\n")
        return count

    def digest(self) -> str:
        """The digest of everything written so far."""
        return "sha256:" + self._sink.hash.hexdigest()

    def close(self) -> str:
        """Write the digest line; returns the digest (and, in memory, the whole text)."""
        digest = self.digest()
        tail = _DIGEST + digest.encode() + b'"}\n'
        if self._out is None:
            return (b"".join(self._sink.parts) + tail).decode("utf-8")
        self._sink.parts.append(tail)
        self._sink.flush()
        if self._zip is not None:
            self._zip.close()
        assert self._raw is not None and self.path is not None
        self._raw.close()
        self._tmp.replace(self.path)
        return digest

    def abort(self) -> None:
        """Drop a partly written file (an error while producing the plan)."""
        if self._raw is not None:
            self._raw.close()
            if self._tmp.exists():
                os.unlink(self._tmp)


def canonical_digest(document: Mapping[str, Any], order: Iterable[tuple[str, bool]]) -> str:
    """The digest of ``document`` written in the canonical layout.

    ``order`` lists the keys in writing order, each with whether it is a
    section (a list written one row per line) or a member. For a document
    that a JSON tool rewrote: the digest covers the content, not the layout.
    """
    writer = PlanWriter(keep=False)
    for key, is_section in order:
        if key not in document:
            continue
        if is_section:
            rows = document[key]
            if not isinstance(rows, list):
                raise PlanError(
                    f"malformed plan: {key!r} must be a list; re-create it with `merge-engine plan`"
                )
            writer.section(key, rows)
        else:
            writer.member(key, document[key])
    return writer.digest()


class _NotCanonical(Exception):
    """The file is not in the canonical layout (read it as a whole instead)."""


def _members(line: bytes) -> dict[str, Any]:
    text = line.rstrip(b"\n")
    if text.endswith(b",") or text.endswith(b"}"):
        text = text[:-1]
    try:
        value = json.loads(b"{" + text + b"}")
    except ValueError:
        raise _NotCanonical from None
    if not isinstance(value, dict) or len(value) != 1:
        raise _NotCanonical
    return value


class ScannedPlan:
    """A plan file in the canonical layout, scanned once: its members, its sections' row
    counts and positions, and whether its digest matches.

    :meth:`scan` returns ``None`` for a file in another layout (an older
    schema version, or rewritten by a JSON tool): read that one as a whole.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.members: dict[str, Any] = {}
        self.counts: dict[str, int] = {}
        #: Offset of the first row of each section in the uncompressed bytes.
        self.starts: dict[str, int] = {}
        #: Offsets of every ``STRIDE``-th row of each section (for reading it backwards).
        self.marks: dict[str, list[int]] = {}
        self.order: list[str] = []
        #: The rows of the sections parsed while scanning (small ones: tables, notes).
        self.kept: dict[str, list[Any]] = {}
        self.digest_ok = False

    @classmethod
    def scan(cls, path: str | Path, keep: Iterable[str] = KEPT) -> ScannedPlan | None:
        """Read ``path`` once, hashing every byte and parsing the members and the rows of
        the ``keep`` sections only."""
        text = cls(Path(path))
        text.kept = {k: [] for k in keep}
        try:
            with open_plan_bytes(path) as f:
                if f.read(len(HEAD)) != HEAD:
                    return None
                text._scan(f)
        except (_NotCanonical, ValueError):  # JSON, but not in this layout
            return None
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise PlanError(f"{path}: cannot read plan ({_why(exc)})") from exc
        return text

    def _scan(self, f: IO[bytes]) -> None:
        self.members["schema_version"] = 3
        import hashlib  # noqa: PLC0415

        digest = hashlib.sha256(HEAD)
        update = digest.update
        pos = len(HEAD)
        section: str | None = None
        count = 0
        marks: list[int] = []
        kept: list[Any] | None = None
        last = b""
        for line in f:
            if section is not None:
                if line == b"],\n":
                    self.counts[section], self.marks[section] = count, marks
                    section = None
                else:
                    if count % STRIDE == 0:
                        marks.append(pos)
                    count += 1
                    if kept is not None:
                        kept.append(json.loads(line[:-2] if line.endswith(b",\n") else line))
                update(line)
                pos += len(line)
                continue
            if line.startswith(_DIGEST):
                last = line
                break
            if line.endswith(b":[\n"):
                section = json.loads(line[:-3])
                if not isinstance(section, str) or section in self.counts:
                    raise _NotCanonical
                self.order.append(section)
                count, marks, kept = 0, [], self.kept.get(section)
                self.starts[section] = pos + len(line)
            else:
                self.members.update(_members(line))
            update(line)
            pos += len(line)
        if section is not None or not last.endswith(b'"}\n') or f.read(1):
            raise _NotCanonical
        stored = _members(last).get("digest")
        self.members["digest"] = stored
        self.digest_ok = stored == "sha256:" + digest.hexdigest()

    def rows(self, section: str, start: int = 0) -> Iterator[Any]:
        """The rows of ``section`` (from row ``start``), parsed one at a time."""
        if section in self.kept:
            yield from self.kept[section][start:]
            return
        if section not in self.starts:
            return
        with open_plan_bytes(self.path) as f:
            yield from self._rows_from(f, section, start, self.counts[section])

    def _rows_from(self, f: IO[bytes], section: str, start: int, stop: int) -> Iterator[Any]:
        marks = self.marks[section]
        mark = start // STRIDE
        f.seek(marks[mark] if mark < len(marks) else self.starts[section])
        skip = start - mark * STRIDE if mark < len(marks) else 0
        loads = json.loads
        done = start
        for line in f:
            if done >= stop:
                return
            if skip:
                skip -= 1
                continue
            yield loads(line[:-2] if line.endswith(b",\n") else line)
            done += 1

    def rows_backwards(self, section: str) -> Iterator[Any]:
        """The rows of ``section``, last first, ``STRIDE`` rows in memory at a time."""
        if section not in self.starts:
            return
        marks = self.marks[section]
        total = self.counts[section]
        with open_plan_bytes(self.path) as f:
            for i in range(len(marks) - 1, -1, -1):
                stop = min(total, (i + 1) * STRIDE)
                chunk = list(self._rows_from(f, section, i * STRIDE, stop))
                yield from reversed(chunk)


def _why(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def legacy_digest(document: Mapping[str, Any]) -> str:
    """The digest of a version-2 plan: its content as compact JSON with sorted keys."""
    import hashlib  # noqa: PLC0415

    return "sha256:" + hashlib.sha256(dumps(document).encode("utf-8")).hexdigest()


T = TypeVar("T")


def parse_entries(key: str, items: Iterable[Any], parse: Callable[[Any], T]) -> Iterator[T]:
    """``parse`` on each entry of section ``key``, naming the entry that is wrong."""
    for i, item in enumerate(items):
        try:
            yield parse(item)
        except PlanError as exc:
            raise PlanError(f"malformed plan: {key}[{i}]: {exc}") from exc
        except KeyError as exc:
            raise PlanError(
                f"malformed plan: {key}[{i}] has no {exc.args[0]!r}; "
                "re-create the plan with `merge-engine plan`"
            ) from exc
        except (TypeError, ValueError, AttributeError, IndexError) as exc:
            raise PlanError(
                f"malformed plan: {key}[{i}] is {kind(item)} with a value of the wrong type or "
                f"count ({type(exc).__name__}); re-create the plan with `merge-engine plan`"
            ) from exc


def kind(value: object) -> str:
    """What a JSON value is, for messages (``null``, ``list``, ``dict``...)."""
    return "null" if value is None else type(value).__name__
