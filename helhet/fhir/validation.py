"""FHIR R4B validation that validates a repeated element once.

Resources of one kind repeat the same elements: every PHQ-9 response carries the same nine
items with one of four answer codings each, and validating them is most of the cost of
validating the response. ``model_validate`` below validates each distinct element of the listed
fields once, keeps the validated model, and hands it to the resource's model in place of the
element: pydantic takes a model instance of the field's type as it is. Everything else, and
every element met for the first time, is validated by the fhir.resources R4B model as before.

An element is reused only when its JSON text (orjson, keys in their order) is one already
validated, and only when that text contains no ``null``: orjson writes NaN and infinities as
null, so without nulls the text determines the element, and valid FHIR has no nulls anyway.
An element's validity does not depend on the resource around it (the R4B models validate each
element on its own), so the outcome is the same; when the resource does not validate, it is
validated again without reuse and that error is raised, so messages are unchanged too.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import orjson

MAX_ELEMENTS = 20_000  # validated elements kept per process; forgotten all at once when full

_validated: dict[tuple[type, bytes], Any] = {}
_lock = threading.Lock()


def model_validate(model: Any, resource: dict[str, Any], reuse: Mapping[str, type]) -> Any:
    """``model.model_validate(resource)``, with the elements of the fields in ``reuse`` (field name ->
    the element's model) validated once per process."""
    swapped: dict[str, list[Any]] = {}
    for field, element_model in reuse.items():
        elements = resource.get(field)
        if isinstance(elements, list) and elements and all(isinstance(e, dict) for e in elements):
            validated = [_element(element_model, e) for e in elements]
            if all(v is not None for v in validated):
                swapped[field] = validated
    if not swapped:
        return model.model_validate(resource)
    try:
        return model.model_validate({**resource, **swapped})
    except Exception:  # noqa: BLE001 - the plain validation below raises the error to report
        return model.model_validate(resource)


def _element(element_model: type, element: dict[str, Any]) -> Any:
    """The validated model of one element, or None when it does not validate (or cannot be keyed)."""
    try:
        text = orjson.dumps(element)
    except TypeError:
        return None
    if b"null" in text:
        return None
    key = (element_model, text)
    found = _validated.get(key)
    if found is not None:
        return found
    try:
        found = element_model.model_validate(element)  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - an invalid element: the whole resource is validated to report it
        return None
    with _lock:
        if len(_validated) >= MAX_ELEMENTS:
            _validated.clear()
        _validated[key] = found
    return found
