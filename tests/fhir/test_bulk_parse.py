"""`bulk.loads_json`, the NDJSON import's line parser (orjson, with the json module where the two differ), gives
exactly what `json.loads` gives: the same objects for every line, the same error for every bad line."""

from __future__ import annotations

import json

import pytest

from helhet.fhir.bulk import _parse_line, loads_json

LINES = [
    b'{"resourceType":"Patient","id":"P-1","birthDate":"1970","extension":[{"valueBoolean":true}]}',
    b'{"a":1.5,"b":-0.0,"c":1E2,"d":1e-400,"e":[null,false,"\\u00e6\\u00f8\\u00e5 \\ud83d\\ude00"]}',
    '{"name":"Ærlig Øvre Å"}'.encode(),
    b'{"a":9223372036854775807,"b":-9223372036854775808,"c":18446744073709551615}',
    b'{"a":123456789012345678901234567890}',  # beyond 64 bits: json keeps the int, orjson would give a float
    b'{"a":-123456789012345678901234567890}',
    b'{"a":NaN,"b":Infinity,"c":-Infinity}',  # json accepts these, orjson does not
    b'{"a":1e400}',
    b'\xef\xbb\xbf{"a":1}',  # a UTF-8 byte-order mark
    b'{"a":"\\ud800"}',  # a lone surrogate
    b'{"a":1,"a":2}',
    b' {"a":1} \n',
    '{"a":1}'.encode("utf-16"),
    b'{"a":"\xff"}',
    b'{"a":"tab\there"}',
    b'{oops',
    b'[1,2]',
    b'"text"',
    b'',
]


def outcome(parse, raw: bytes) -> str:
    try:
        return repr(parse(raw))
    except ValueError as exc:
        return f"{type(exc).__name__}: {exc}"


@pytest.mark.parametrize("raw", LINES)
def test_loads_json_gives_what_json_loads_gives(raw):
    assert outcome(loads_json, raw) == outcome(json.loads, raw)


def test_a_bad_line_is_rejected_with_the_json_modules_message():
    item = _parse_line(7, b'{"resourceType": "Patient",}')
    assert item.outcome == "rejected" and item.index == 7
    try:
        json.loads(b'{"resourceType": "Patient",}')
    except ValueError as exc:
        assert item.message == f"not valid JSON: {exc}"
