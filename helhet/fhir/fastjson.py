"""JSON writing on the API's hot paths: orjson, with the json module for what orjson refuses.

orjson takes about a tenth of the json module's time for a create's Bundle or a stored resource.
For JSON's own types the text is what ``json.dumps`` writes (an integer beyond 64 bits goes to the
json module; keys that are not strings become strings in both), compact and as UTF-8; a float that
is not finite becomes null, where json.dumps would write an invalid NaN. orjson also writes dates,
datetimes and UUIDs (as ISO text), where json.dumps refuses them: callers pass JSON values only.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(value, ensure_ascii=False).encode()
