"""The editor-blind study: sheets that hide which model wrote what, the key that un-blinds them, and reading the
filled sheets back with every mismatch refused.

Each editor gets ``editor_<k>.csv`` with exactly the columns ``item,prompt,response_1,response_2,preferred,comment``;
rows are shuffled and the two responses' order is randomised per editor and per pair (seeded, balanced: each model
is shown first for half of an editor's pairs, the odd one out by a coin). Items are numbered ``item-001``...; no pair
id and no model name appears on a sheet. ``key.json`` is the only place that maps (editor, item) to the pair and to
which response is the candidate, with a hash of every row's texts so that an edited or swapped row is refused.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grader.io import read_json, read_rows, write_atomic, write_json_atomic
from grader.pairwise import Pair
from grader.types import InputError

COLUMNS = ["item", "prompt", "response_1", "response_2", "preferred", "comment"]
PREFERRED = {"1": "response_1", "2": "response_2", "tie": "tie"}
KEY_VERSION = 1

INSTRUCTIONS = """# Instructions for editors

You will read {n} prompts from grant applications, each with two paragraphs written in answer to it
(`response_1` and `response_2`). For every row, decide which paragraph you would rather submit.

* In the `preferred` column write `1` (response 1 is better), `2` (response 2 is better) or `tie` (equally good or
  equally flawed). Every row needs a value.
* What matters, in order: the brief's facts stated exactly (numbers, amounts, dates, partners) with nothing invented
  or inflated; everything a reviewer needs is there; it reads clearly in one pass; a sober tone.
* Length and polish are not quality by themselves: prefer the longer or more elegant paragraph only if it is better
  for the reasons above.
* The order of the two responses is random and means nothing. Do not try to guess where they come from.
* `comment` is optional. Do not change, add, delete or reorder any other cell, and do not discuss your choices with
  the other editors before everyone has returned their sheet.
* Save the file as CSV (UTF-8) under the same name.
"""


def _row_hash(prompt: str, r1: str, r2: str) -> str:
    return hashlib.sha256(json.dumps([prompt, r1, r2], ensure_ascii=False).encode()).hexdigest()[:16]


def _balanced_first(rng: np.random.Generator, n: int) -> np.ndarray:
    """True where the candidate is shown first: exactly half of the pairs (the odd one by a coin), at random."""
    first = np.zeros(n, dtype=bool)
    first[rng.permutation(n)[: n // 2 + (int(rng.integers(0, 2)) if n % 2 else 0)]] = True
    return first


def make_sheets(pairs: list[Pair], editors: int, seed: int = 0) -> tuple[dict[str, list[list[str]]], dict]:
    """``({"editor_1": rows, ...}, key)``; rows are lists in ``COLUMNS`` order, ``preferred`` and ``comment`` empty."""
    items = {f"item-{i + 1:03d}": p for i, p in enumerate(pairs)}
    names = list(items)
    sheets, assignment = {}, {}
    for e in range(1, editors + 1):
        rng = np.random.default_rng([seed, e])
        first = _balanced_first(rng, len(names))
        order = rng.permutation(len(names))
        rows, amap = [], {}
        for k in order:
            item, pair = names[k], items[names[k]]
            r1, r2 = (pair.candidate, pair.baseline) if first[k] else (pair.baseline, pair.candidate)
            rows.append([item, pair.prompt, r1, r2, "", ""])
            amap[item] = {"candidate": "response_1" if first[k] else "response_2", "row_sha": _row_hash(pair.prompt, r1, r2)}
        sheets[f"editor_{e}"] = rows
        assignment[f"editor_{e}"] = amap
    key = {"version": KEY_VERSION, "seed": seed, "editors": editors, "columns": COLUMNS,
           "items": {item: p.id for item, p in items.items()}, "assignment": assignment}
    return sheets, key


def sheet_csv(rows: list[list[str]]) -> str:
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(COLUMNS)
    w.writerows(rows)
    return "\ufeff" + buf.getvalue()  # a BOM, so spreadsheet programs read the file as UTF-8


def write_sheets(out_dir: Path, sheets: dict, key: dict) -> None:
    for name, rows in sheets.items():
        write_atomic(out_dir / f"{name}.csv", sheet_csv(rows))
    write_atomic(out_dir / "INSTRUCTIONS.md", INSTRUCTIONS.format(n=len(key["items"])))
    write_json_atomic(out_dir / "key.json", key)


@dataclass
class FilledStudy:
    pair_ids: list[str]  # in key item order
    editors: list[str]
    choices: np.ndarray  # (pairs, editors): 0 baseline, 1 tie, 2 candidate
    comments: dict


def _load_key(path: Path) -> dict:
    key = read_json(path, "key file")
    ok = (isinstance(key, dict) and key.get("version") == KEY_VERSION and isinstance(key.get("items"), dict)
          and isinstance(key.get("assignment"), dict) and key["items"])
    if not ok:
        raise InputError(path, "not a key written by 'winrate.py sheets' (version, items, assignment)")
    return key


def read_filled(sheets_dir: str | Path) -> FilledStudy:
    """Read every editor's filled sheet against the key; refuse (InputError, one line) any sheet with a missing,
    unknown or repeated item, a blank or unknown ``preferred``, other columns, or a row whose texts differ from the
    key's record of what was sent."""
    d = Path(sheets_dir)
    if not d.is_dir():
        raise InputError(d, "sheets directory not found")
    key = _load_key(d / "key.json")
    items = key["items"]
    editors = sorted(key["assignment"], key=lambda s: int(s.split("_")[-1]) if s.split("_")[-1].isdigit() else 0)
    code = {"baseline": 0, "tie": 1, "candidate": 2}
    choices = np.full((len(items), len(editors)), -1, dtype=int)
    pos = {item: i for i, item in enumerate(items)}
    comments: dict = {}
    for j, ed in enumerate(editors):
        path = d / f"{ed}.csv"
        amap = key["assignment"][ed]
        rows = read_rows(path, f"sheet of {ed}")
        if path.suffix.lower() != ".csv":
            raise InputError(path, "a sheet must be a .csv file")
        cols = list(rows[0].keys()) if rows else None
        if cols is not None and cols != COLUMNS:
            raise InputError(path, f"columns must be exactly {','.join(COLUMNS)}; got {','.join(map(str, cols))}")
        seen = set()
        for i, row in enumerate(rows):
            item = (row.get("item") or "").strip()
            if item not in amap:
                raise InputError(path, f"unknown item {item!r} (not in the key for {ed})", i)
            if item in seen:
                raise InputError(path, "item appears twice", i, item)
            seen.add(item)
            if _row_hash(row["prompt"], row["response_1"], row["response_2"]) != amap[item]["row_sha"]:
                raise InputError(path, "the prompt or responses differ from what the key says was sent "
                                       "(edited or swapped cells)", i, item)
            pref = (row.get("preferred") or "").strip().lower()
            if pref not in PREFERRED:
                what = "blank" if not pref else f"unknown value {row.get('preferred')!r}"
                raise InputError(path, f"'preferred' is {what}; expected 1, 2 or tie", i, item)
            shown = PREFERRED[pref]
            outcome = "tie" if shown == "tie" else ("candidate" if shown == amap[item]["candidate"] else "baseline")
            choices[pos[item], j] = code[outcome]
            if (row.get("comment") or "").strip():
                comments.setdefault(items[item], {})[ed] = row["comment"].strip()
        missing = [it for it in amap if it not in seen]
        if missing:
            raise InputError(path, f"item {missing[0]!r} is missing ({len(missing)} of {len(amap)} rows missing)")
    return FilledStudy([items[it] for it in items], editors, choices, comments)


def simulate_fill(sheets_dir: str | Path, prefer_candidate: list[float], tie_rate: float = 0.0, seed: int = 1,
                  truth: dict[str, str] | None = None, accuracy: float = 0.85) -> None:
    """Fill the blank sheets as simulated editors would (for demos and tests).

    Without ``truth``: editor k ties with probability ``tie_rate``, else prefers the candidate with probability
    ``prefer_candidate[k]``. With ``truth`` (pair id -> candidate / baseline / tie): every editor reports the true
    preference with probability ``accuracy``, otherwise one of the two other choices at random."""
    d = Path(sheets_dir)
    key = _load_key(d / "key.json")
    rng = np.random.default_rng(seed)
    for k, ed in enumerate(sorted(key["assignment"], key=lambda s: int(s.rsplit("_", 1)[-1]))):
        amap = key["assignment"][ed]
        out = []
        for row in read_rows(d / f"{ed}.csv"):
            cand = "1" if amap[row["item"]]["candidate"] == "response_1" else "2"
            base = "2" if cand == "1" else "1"
            if truth is not None:
                true = {"candidate": cand, "baseline": base, "tie": "tie"}[truth[key["items"][row["item"]]]]
                others = [c for c in (cand, base, "tie") if c != true]
                pref = true if rng.random() < accuracy else others[int(rng.integers(0, 2))]
            elif rng.random() < tie_rate:
                pref = "tie"
            else:
                pref = cand if rng.random() < prefer_candidate[k % len(prefer_candidate)] else base
            out.append([row["item"], row["prompt"], row["response_1"], row["response_2"], pref, ""])
        write_atomic(d / f"{ed}.csv", sheet_csv(out))
