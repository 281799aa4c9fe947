"""Reading user files with one-line errors, and writing outputs atomically (never half-written)."""
from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from pathlib import Path

from .types import InputError, Sample


def read_json(path: str | Path, what: str = "file") -> object:
    path = Path(path)
    text = read_text(path, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(path, f"not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None


ROW_FORMATS = "a JSON array of objects, JSON Lines (one object per line) or CSV with a header row"


def read_text(path: str | Path, what: str = "file") -> str:
    """A user's text file as UTF-8 (a BOM is fine); a missing, unreadable or undecodable file is one-line bad input."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(path, f"{what} not found") from None
    except IsADirectoryError:
        raise InputError(path, f"{what} is a directory, not a file") from None
    except OSError as e:
        raise InputError(path, f"cannot read {what} ({e.strerror or e})") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(path, f"not valid UTF-8 (byte {e.start})") from None


def read_rows(path: str | Path, what: str = "file") -> list[dict]:
    """Rows of a table a user has: a JSON array of objects, JSON Lines, or CSV with a header (a UTF-8 BOM is fine).

    The format comes from the extension (.json, .jsonl/.ndjson, .csv/.tsv); otherwise from the content (``[`` starts
    a JSON array, ``{`` JSON Lines, anything else CSV). Errors name the file, the row and the format expected.
    """
    path = Path(path)
    text = read_text(path, what)
    ext = path.suffix.lower()
    head = text.lstrip()[:1]
    if ext in (".jsonl", ".ndjson") or (ext not in (".json", ".csv", ".tsv") and head == "{"):
        rows = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise InputError(path, f"line {n} is not valid JSON ({e.msg}); expected {ROW_FORMATS}") from None
            if not isinstance(obj, dict):
                raise InputError(path, f"line {n} is a {type(obj).__name__}, not a JSON object")
            rows.append(obj)
        return rows
    if ext == ".json" or (ext not in (".csv", ".tsv") and head == "["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise InputError(path, f"not valid JSON (line {e.lineno}, column {e.colno}: {e.msg}); "
                                   f"expected {ROW_FORMATS}") from None
        if not isinstance(data, list):
            raise InputError(path, f"expected {ROW_FORMATS}; got a JSON {type(data).__name__}")
        for i, item in enumerate(data):
            if not isinstance(item, dict):
                raise InputError(path, f"entry is a {type(item).__name__}, not an object", i)
        return data
    if not text.strip():
        return []
    try:
        dialect = "excel-tab" if ext == ".tsv" else "excel"
        reader = csv.DictReader(io.StringIO(text, newline=""), dialect=dialect)
        rows = []
        for row in reader:
            if None in row:
                raise InputError(path, f"CSV row {reader.line_num} has more fields than the header")
            rows.append({k.strip(): v for k, v in row.items()})
        if reader.fieldnames is None or not any(f.strip() for f in reader.fieldnames):
            raise InputError(path, f"no CSV header row; expected {ROW_FORMATS}")
        return rows
    except csv.Error as e:
        raise InputError(path, f"not valid CSV ({e}); expected {ROW_FORMATS}") from None


def load_samples(path: str | Path, input_fields: str | tuple[str, ...] = ("input_ticket",),
                 output_fields: str | tuple[str, ...] = ("model_output",)) -> list[Sample]:
    """Samples from a JSON array, JSON Lines or CSV file (``read_rows``): ``id`` plus an input and an output field.

    ``input_fields``/``output_fields`` name the fields (the rubric spec's ``fields``, or ``--input-field`` /
    ``--output-field``); with several names, the first one present in a row is used. Extra fields are ignored;
    ids must be unique non-empty strings.
    """
    ins = (input_fields,) if isinstance(input_fields, str) else tuple(input_fields)
    outs = (output_fields,) if isinstance(output_fields, str) else tuple(output_fields)
    data = read_rows(path, "samples file")
    samples, seen = [], {}
    for i, item in enumerate(data):
        sid = item.get("id")
        if "id" not in item:
            raise InputError(path, "missing field 'id'", i)
        if not isinstance(sid, str) or not sid:
            raise InputError(path, f"'id' must be a non-empty string, got {sid!r}", i)
        values = []
        for names in (ins, outs):
            field = next((n for n in names if n in item), None)
            if field is None:
                alts = " or ".join(repr(n) for n in names)
                raise InputError(path, f"missing field {alts} (fields present: {', '.join(map(str, item)) or 'none'};"
                                       " choose others with --input-field/--output-field or the spec's \"fields\")",
                                 i, sid)
            if not isinstance(item[field], str):
                raise InputError(path, f"{field!r} must be a string, got {type(item[field]).__name__}", i, sid)
            values.append(item[field])
        if sid in seen:
            raise InputError(path, f"duplicate id (first seen at item {seen[sid]})", i, sid)
        seen[sid] = i
        samples.append(Sample(sid, values[0], values[1]))
    return samples


def expert_shapes(keys: list[str]) -> str:
    """The expert-grade file shapes ``load_expert_grades`` accepts, for error messages and help texts."""
    flat = ", ".join(f'"{k}": 4' for k in keys[:2]) + (", ..." if len(keys) > 2 else "")
    return (f'a JSON array of {{"id", "rater"?, "scores": {{{flat}}}}} or of flat rows {{"id", "rater"?, {flat}}}, '
            f'or an object keyed by id ({{"<id>": {{{flat}}}}} or {{"<id>": {{"scores": {{...}}}}}})')


def _expert_entries(data: object, path: Path, keys: list[str]) -> list[tuple[int, str, dict]]:
    """``(position, id, entry)`` for each grade, whatever the file's shape; ``entry`` is one rater's object."""
    shapes = expert_shapes(keys)
    if isinstance(data, list):
        out = []
        for i, item in enumerate(data):
            if not isinstance(item, dict):
                raise InputError(path, f"entry is a {type(item).__name__}, not an object; expected {shapes}", i)
            sid = item.get("id")
            if not isinstance(sid, str) or not sid:
                raise InputError(path, f"'id' must be a non-empty string, got {sid!r}; expected {shapes}", i)
            out.append((i, sid, item))
        return out
    if isinstance(data, dict):
        out = []
        for i, (sid, value) in enumerate(data.items()):
            for entry in value if isinstance(value, list) else [value]:  # a list: one entry per rater
                if not isinstance(entry, dict):
                    raise InputError(path, f"grades for id {sid!r} are a {type(entry).__name__}, not an object; "
                                           f"expected {shapes}", i, sid)
                if "id" in entry and entry["id"] != sid:
                    raise InputError(path, f"key {sid!r} holds grades for id {entry['id']!r}", i, sid)
                out.append((i, sid, entry))
        return out
    raise InputError(path, f"expected {shapes}; got a JSON {type(data).__name__}")


def load_expert_grades(path: str | Path, keys: list[str], scale: tuple[int, int],
                       known_ids: set[str] | None = None) -> list[dict]:
    """Expert grades in any of the shapes of :func:`expert_shapes` -> rows ``{"id", "rater", "scores"}``.

    One rater or several (``rater`` absent = "expert"); ``overall`` and other extra fields are ignored (the caller
    recomputes ``overall`` from the rubric's weights). Scores may be numbers on the scale (means of several experts
    allowed). A row's ``scores`` object wins over flat dimension fields; a dimension missing from both is an error.
    """
    path = Path(path)
    data = read_json(path, "expert grades file")
    shapes = expert_shapes(keys)
    lo, hi = scale
    rows, seen = [], set()
    for i, sid, item in _expert_entries(data, path, keys):
        if known_ids is not None and sid not in known_ids:
            raise InputError(path, "id not found in the samples", i, sid)
        rater = str(item.get("rater", "expert"))
        if (sid, rater) in seen:
            raise InputError(path, f"duplicate grade for rater {rater!r}", i, sid)
        seen.add((sid, rater))
        scores = item.get("scores", item)
        if not isinstance(scores, dict):
            raise InputError(path, f"'scores' must be an object, got {type(scores).__name__}; expected {shapes}", i,
                             sid)
        missing = [k for k in keys if k not in scores]
        if missing:
            where = "'scores'" if "scores" in item else "the entry"
            raise InputError(path, f"{where} has no score for {', '.join(map(repr, missing))}; expected {shapes}",
                             i, sid)
        clean = {}
        for k in keys:
            v = scores[k]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not lo <= v <= hi:
                raise InputError(path, f"score {k!r} must be a number from {lo} to {hi}, got {v!r}", i, sid)
            clean[k] = float(v)
        rows.append({"id": sid, "rater": rater, "scores": clean})
    if not rows:
        raise InputError(path, f"no expert grades; expected {shapes}")
    return rows


def check_output_path(path: str | Path) -> Path:
    """Fail early (before any grading or API spend) when an output cannot be written where asked."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(path, f"output directory {str(parent)!r} does not exist")
    if path.is_dir():
        raise InputError(path, "output path is a directory")
    if not os.access(parent, os.W_OK):
        raise InputError(path, f"output directory {str(parent)!r} is not writable")
    return path


def same_file_key(path: str | Path) -> str:
    """A path resolved for comparison: relative parts, ``..`` and symlinks resolved, even for a file not yet there."""
    return os.path.normcase(os.path.realpath(os.path.abspath(os.fspath(path))))


def refuse_overwrite(outputs: dict[str, str | Path | None], inputs: dict[str, str | Path | None]) -> None:
    """Refuse, before any work, an output path that is the same file as an input or as another output.

    ``outputs`` and ``inputs`` map a label the user recognises (usually the option, e.g. ``"--output"``) to a path;
    ``None`` entries are skipped. Paths are compared after resolving relative parts and symlinks (and, for existing
    files, by device and inode, so hard links count too). Raises ``InputError`` (one line, exit 2) naming both paths.
    Every script that writes files calls this once, after parsing its options and before reading or grading.
    """
    def ident(path: str | Path) -> tuple:
        try:
            st = os.stat(path)
            return ("inode", st.st_dev, st.st_ino)
        except OSError:
            return ("path", same_file_key(path))

    seen: list[tuple[str, str, tuple, tuple]] = []  # (label, path, identity by inode, identity by path)
    for kind, mapping in (("input", inputs), ("output", outputs)):
        for label, path in mapping.items():
            if path is None:
                continue
            a, b = ident(path), ("path", same_file_key(path))
            if kind == "output":
                for olabel, opath, oa, ob in seen:
                    if a == oa or b == ob:
                        raise InputError(label, f"{str(path)!r} is the same file as {olabel} {str(opath)!r}; "
                                                "refusing to overwrite it (choose another output path)")
            seen.append((label, str(path), a, b))


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write to a temporary file in the same directory, fsync, then rename over ``path``."""
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; an output file gets the mode any tool would give it
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _umask() -> int:
    """The process umask (read by setting it and restoring it at once: there is no read-only call)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_json_atomic(path: str | Path, obj: object) -> None:
    write_atomic(path, json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
