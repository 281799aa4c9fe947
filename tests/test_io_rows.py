"""grader.io.read_rows: the three table formats users have, chosen by extension or content, with one-line errors."""
from __future__ import annotations

import pytest

from grader.io import read_rows
from grader.types import InputError


@pytest.mark.parametrize("name,data", [
    ("rows.json", '[{"id": "a", "x": "1"}, {"id": "b", "x": "2"}]'),
    ("rows.jsonl", '{"id": "a", "x": "1"}\n\n{"id": "b", "x": "2"}\n'),
    ("rows.csv", "\ufeffid,x\na,1\nb,2\n"),
    ("rows.txt", '{"id": "a", "x": "1"}\n{"id": "b", "x": "2"}\n'),  # by content: JSON Lines
    ("rows.dat", '[{"id": "a", "x": "1"}, {"id": "b", "x": "2"}]'),  # by content: JSON array
    ("rows", "id,x\na,1\nb,2\n"),  # by content: CSV
])
def test_every_format_gives_the_same_rows(tmp_path, name, data):
    p = tmp_path / name
    p.write_text(data, encoding="utf-8")
    assert read_rows(p) == [{"id": "a", "x": "1"}, {"id": "b", "x": "2"}]


def test_csv_keeps_quoted_commas_and_newlines(tmp_path):
    p = tmp_path / "q.csv"
    p.write_text('id,text\na,"one, two\nthree"\n', encoding="utf-8")
    assert read_rows(p) == [{"id": "a", "text": "one, two\nthree"}]


@pytest.mark.parametrize("name,data,needle", [
    ("bad.jsonl", '{"id": "a"}\n{"id": \n', "line 2 is not valid JSON"),
    ("bad.json", '{"id": "a"}', "got a JSON dict"),
    ("bad2.json", '[1, 2]', "not an object"),
    ("bad.csv", "id,x\na,1,extra\n", "more fields than the header"),
])
def test_errors_name_the_file_and_the_problem(tmp_path, name, data, needle):
    p = tmp_path / name
    p.write_text(data, encoding="utf-8")
    with pytest.raises(InputError) as e:
        read_rows(p)
    assert needle in str(e.value) and name in str(e.value) and "\n" not in str(e.value)


def test_invalid_utf8_is_an_input_error(tmp_path):
    p = tmp_path / "latin1.csv"
    p.write_bytes("id,x\ncafé,1\n".encode("latin-1"))
    with pytest.raises(InputError, match="not valid UTF-8"):
        read_rows(p)
