"""The NDJSON import sets the cyclic garbage collector aside for its run (`bulk._import_gc`): the objects that exist at
its start are frozen and young collections run less often; afterwards the process's collector is as it was, also
when the import fails, and a server that froze its own start-up heap keeps it frozen."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import pytest

from helhet.fhir import bulk

pytestmark = pytest.mark.django_db


def test_the_collector_is_set_aside_during_the_import_and_restored_after(tmp_path: Path, monkeypatch):
    seen: list[tuple[tuple[int, ...], int]] = []
    process_batch = bulk.process_batch

    def watched(ictx, items):
        seen.append((gc.get_threshold(), gc.get_freeze_count()))
        return process_batch(ictx, items)

    monkeypatch.setattr(bulk, "process_batch", watched)
    path = tmp_path / "one.ndjson"
    path.write_text(json.dumps({"resourceType": "Observation"}) + "\n")
    before = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    summary = bulk.import_ndjson_file(str(path), user=None)
    assert summary.counts["rejected"] == 1  # an Observation is not imported: the run went through a batch
    assert seen and seen[0][0] == bulk.IMPORT_GC_THRESHOLD and seen[0][1] > 0
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0

    def failing(ictx, items):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(bulk, "process_batch", failing)
    with pytest.raises(RuntimeError):
        bulk.import_ndjson_file(str(path), user=None, restart=True)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_a_heap_frozen_before_the_import_stays_frozen(tmp_path: Path):
    path = tmp_path / "one.ndjson"
    path.write_text(json.dumps({"resourceType": "Observation"}) + "\n")
    gc.freeze()
    try:
        assert gc.get_freeze_count() > 0
        bulk.import_ndjson_file(str(path), user=None)
        assert gc.get_freeze_count() > 0  # not unfrozen (frozen objects freed meanwhile leave the count)
    finally:
        gc.unfreeze()
