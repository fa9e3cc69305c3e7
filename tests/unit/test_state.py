"""The state directory: atomic files, the lock, transaction ids, pruning."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.unit.fakebox import FakeClock
from tightrope.errors import Busy
from tightrope.txn import control, expiry
from tightrope.txn.atomic import create_exclusive, write_all, write_atomic
from tightrope.txn.state import (
    KEEP_TRANSACTIONS,
    BadTxnId,
    StateUnreadable,
    Store,
    TxnState,
)


def test_write_all_goes_on_after_short_writes(tmp_path: Path) -> None:
    chunks: list[bytes] = []

    def stingy(fd: int, data: memoryview) -> int:
        chunks.append(bytes(data[:3]))
        return os.write(fd, data[:3])

    path = tmp_path / "f"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        write_all(fd, b"0123456789", write=stingy)
    finally:
        os.close(fd)
    assert path.read_bytes() == b"0123456789" and len(chunks) == 4


def test_write_all_refuses_a_write_that_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(OSError, match="wrote nothing"):
        write_all(0, b"x", write=lambda fd, data: 0)


def test_write_atomic_replaces_whole_with_the_mode_and_leaves_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("old")
    old_umask = os.umask(0o077)
    try:
        write_atomic(path, "new", mode=0o640)
    finally:
        os.umask(old_umask)
    assert path.read_text() == "new"
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_create_exclusive_never_replaces(tmp_path: Path) -> None:
    path = tmp_path / "pending"
    create_exclusive(path, "first")
    with pytest.raises(FileExistsError):
        create_exclusive(path, "second")
    assert path.read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["pending"]


GOOD_ID = "20260101-120000-abcd"


@pytest.mark.parametrize("bad", ["../x", "", "/", ".", "..", "20260101-120000-abcd/../..",
                                 "/etc", "20260101-120000-ABCD", "20260101-120000-abcd\n",
                                 "x/20260101-120000-abcd"])  # fmt: skip
def test_every_store_method_refuses_what_is_not_a_transaction_id(
    tmp_path: Path, bad: str
) -> None:
    store = Store(tmp_path)
    calls = [
        lambda: store.txn_dir(bad),
        lambda: store.load(bad),
        lambda: store.inputs(bad),
        lambda: store.save(_state(bad)),
        lambda: store.create(_state(bad), {}),
        lambda: store.update(_state(bad), phase="running"),
        lambda: store.release(bad),
        lambda: store.flag(bad, "confirm"),
        lambda: store.raise_flag(bad, "confirm"),
        lambda: store.write_backup(bad, "x.json", "{}"),
    ]
    for call in calls:
        with pytest.raises(BadTxnId, match="is not a transaction id"):
            call()
    assert not (tmp_path / "pending").exists()
    assert sorted(p.name for p in tmp_path.rglob("*")) in ([], ["txn"])


@pytest.mark.parametrize("name", ["", "../state.json", ".state.json.tmp", "a/b"])
def test_flag_and_backup_names_are_plain_file_names(tmp_path: Path, name: str) -> None:
    store = Store(tmp_path)
    store.create(_state(GOOD_ID), {})
    with pytest.raises(ValueError, match="not a plain file name"):
        store.write_backup(GOOD_ID, name, "x")
    with pytest.raises(ValueError, match="not a plain file name"):
        store.raise_flag(GOOD_ID, name)


def test_stray_folders_are_not_transactions(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.create(_state(GOOD_ID), {})
    (tmp_path / "txn" / "lost+found").mkdir()
    assert store.all_ids() == [GOOD_ID]


def test_a_busy_create_leaves_no_folder_behind(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.create(_state(GOOD_ID), {})
    with pytest.raises(Busy, match=f"{GOOD_ID} is still pending"):
        store.create(_state("20260101-120001-beef"), {})
    assert store.all_ids() == [GOOD_ID] and store.pending_id() == GOOD_ID


@pytest.mark.parametrize("text", ["", "not json", "[1, 2]", '{"id": "x"}',
                                  '{"id": "x", "kind": "apply", "phase": "running", '
                                  '"created": 0, "boot_id": "b", "surprise": 1}'])  # fmt: skip
def test_an_unreadable_state_is_named_not_a_traceback(tmp_path: Path, text: str) -> None:
    store = Store(tmp_path)
    store.create(_state(GOOD_ID), {})
    path = tmp_path / "txn" / GOOD_ID / "state.json"
    path.write_text(text)
    with pytest.raises(StateUnreadable, match=str(path)) as caught:
        store.load(GOOD_ID)
    assert caught.value.path == path


def test_an_unknown_transaction_is_said_so(tmp_path: Path) -> None:
    with pytest.raises(StateUnreadable, match=f"there is no transaction {GOOD_ID}"):
        Store(tmp_path).load(GOOD_ID)


def _state(txn_id: str) -> TxnState:
    return TxnState(id=txn_id, kind="apply", phase="prepared", created=0.0, boot_id="boot-1")


@pytest.mark.parametrize("damage", ["corrupt", "missing", "empty-marker", "bad-marker"])
def test_an_unreadable_pending_transaction_keeps_the_lock(tmp_path: Path, damage: str) -> None:
    """Nobody can tell whether its runner still holds NetworkManager: a second change must
    not start, and the error says how a person frees the lock once sure."""
    store = Store(tmp_path)
    store.create(_state(GOOD_ID), {})
    marker = tmp_path / "pending"
    if damage == "corrupt":
        (tmp_path / "txn" / GOOD_ID / "state.json").write_text('{"id": "20260101-1')
    elif damage == "missing":
        (tmp_path / "txn" / GOOD_ID / "state.json").unlink()
    elif damage == "empty-marker":
        marker.write_text("")
    else:
        marker.write_text("../../etc")
    with pytest.raises(Busy) as caught:
        expiry.expire_stale(store, FakeClock(), boot_id="boot-2")
    assert marker.exists()
    text = f"{caught.value} {caught.value.hint}"
    assert "keeps the lock" in text and f"sudo rm {marker}" in text
    assert "tightrope-txn-" in text and "checkpoint" in text
    if damage in ("corrupt", "missing"):
        assert str(tmp_path / "txn" / GOOD_ID / "state.json") in text
    with pytest.raises(Busy):
        store.create(_state("20260101-120001-beef"), {})


def _ended(store: Store, n: int, outcome: str, kind: str = "apply", of: str = "",
           pending: bool = False) -> str:  # fmt: skip
    txn_id = f"19700101-0000{n:02d}-0000"
    inputs = {"kind": kind, "of": of} if of else {"kind": kind}
    state = TxnState(id=txn_id, kind=kind, phase="prepared", created=float(n), boot_id="boot-1")
    store.create(state, inputs)
    store.write_backup(txn_id, "manifest.json", "{}")
    if not pending:
        store.update(state, phase=outcome, outcome=outcome)
        store.release(txn_id)
    return txn_id


def test_pruning_keeps_the_newest_the_pending_and_what_undo_needs(tmp_path: Path) -> None:
    store = Store(tmp_path)
    undoable = _ended(store, 0, "committed")
    undone = _ended(store, 1, "committed")
    _ended(store, 2, "committed", kind="undo", of=undone)
    for n in range(3, 14):
        _ended(store, n, "rolled-back" if n % 2 else "failed")
    pending = _ended(store, 14, "", pending=True)
    assert control.last_undoable(store) == undoable

    removed = control.prune(store)
    ids = store.all_ids()
    assert removed == [f"19700101-0000{n:02d}-0000" for n in range(1, 6)]
    assert len(ids) == KEEP_TRANSACTIONS
    assert undoable in ids and pending in ids and store.pending_id() == pending
    assert not any((tmp_path / "txn" / i).exists() for i in removed)
    assert control.last_undoable(store) == undoable
    assert control.prune(store) == []


def test_pruning_spares_what_a_pending_undo_is_undoing(tmp_path: Path) -> None:
    store = Store(tmp_path)
    target = _ended(store, 0, "committed")
    newest_apply = _ended(store, 1, "committed")
    for n in range(2, 12):
        _ended(store, n, "failed")
    _ended(store, 12, "", kind="undo", of=target, pending=True)
    removed = control.prune(store)
    assert target not in removed and newest_apply not in removed
    assert len(removed) == 3 and len(store.all_ids()) == KEEP_TRANSACTIONS
