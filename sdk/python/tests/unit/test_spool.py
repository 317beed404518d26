"""The on-disk spool: atomic files, claims between processes, and its bounds."""

from __future__ import annotations

import os
from pathlib import Path

from llmlab._spool import Spool


def events(n: int, start: int = 0) -> list[dict[str, object]]:
    return [{"event_id": f"e{i}", "provider": "p", "model": "m"} for i in range(start, start + n)]


def test_write_claim_done_round_trip(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s")
    assert spool.write(events(3))
    assert spool.pending_events() == 3
    claimed = spool.claim_next()
    assert claimed is not None
    path, got = claimed
    assert got == events(3)
    assert spool.claim_next() is None  # claimed files are not handed out twice
    spool.release(path)
    again = spool.claim_next()
    assert again is not None
    spool.done(again[0])
    assert spool.pending_events() == 0
    assert os.listdir(tmp_path / "s") == []


def test_files_come_back_oldest_first(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.write(events(1, 0))
    spool.write(events(1, 1))
    first = spool.claim_next()
    assert first is not None and first[1][0]["event_id"] == "e0"


def test_bounds_drop_the_oldest_files(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_files=3)
    for i in range(5):
        spool.write(events(2, 2 * i))
    assert spool.pending_events() == 6
    assert spool.dropped_events == 4
    ids = []
    while (claimed := spool.claim_next()) is not None:
        ids += [e["event_id"] for e in claimed[1]]
        spool.done(claimed[0])
    assert ids == [f"e{i}" for i in range(4, 10)]


def test_byte_bound(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=300)
    for i in range(10):
        spool.write(events(1, i))
    total = sum(p.stat().st_size for p in tmp_path.iterdir())
    assert total <= 300
    assert spool.dropped_events > 0


def test_claims_of_dead_processes_are_taken_back(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.write(events(2))
    [name] = os.listdir(tmp_path)
    os.replace(tmp_path / name, tmp_path / f"{name}.claim-999999999")
    assert spool.claim_next() is None
    spool.reclaim_stale()
    assert spool.claim_next() is not None


def test_corrupt_files_are_dropped(tmp_path: Path) -> None:
    (tmp_path / "00000000000000000001-1-abcd-1.json").write_text("{not json")
    spool = Spool(tmp_path)
    assert spool.claim_next() is None
    assert os.listdir(tmp_path) == []


def test_an_unwritable_spool_never_raises(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    spool = Spool(blocker / "spool")  # a path under a regular file cannot be created
    assert spool.write(events(1)) is False
    assert spool.dropped_events == 1
    assert spool.claim_next() is None
