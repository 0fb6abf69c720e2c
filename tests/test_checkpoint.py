"""The counting checkpoint: a JSON Lines journal that resumes, appends and refuses damage."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import orjson
import pytest
from helpers import CHECKPOINT_NAME

from distro import checkpoint as checkpoint_module
from distro.checkpoint import Checkpoint, fingerprint
from distro.errors import CheckpointCorrupt, CheckpointMismatch, OutputError
from distro.files import PlanFolder
from distro.flags import with_flags
from distro.settings import DEFAULT_SKIP, CountSettings, CustomerFilter, Tables

TABLES = Tables("c", "u", "us-east-2")
SETTINGS = CountSettings(tables=TABLES)
HEADER = {
    "distroCheckpoint": 1,
    "fingerprint": {
        "consumerTable": "c",
        "uploadTable": "u",
        "region": "us-east-2",
        "endpoint": None,
        "skip": sorted(DEFAULT_SKIP),
        "include": [],
    },
}


def open_checkpoint(directory: Path, settings: CountSettings = SETTINGS) -> Checkpoint:
    return Checkpoint.open(PlanFolder(directory), settings, restart=False)


def assert_resumes(checkpoint: Checkpoint, expected: dict[str, int]) -> None:
    """*checkpoint* resumes exactly the spaces of *expected*, with their counts."""
    assert {space: checkpoint.resumed.get(space) for space in expected} == expected
    assert len(checkpoint.resumed) == len(expected)


def header_line() -> bytes:
    return orjson.dumps(HEADER) + b"\n"


def counts_line(counts: dict[str, object]) -> bytes:
    return orjson.dumps({"counts": counts}) + b"\n"


def test_fingerprint_holds_tables_and_sorted_filters() -> None:
    settings = CountSettings(
        tables=Tables("c", "u", "us-east-2", endpoint_url="http://localhost:8000"),
        customer_filter=CustomerFilter(skip=("z", "a"), include=("y", "b")),
        min_uploads=7,
    )
    assert fingerprint(settings) == {
        "consumerTable": "c",
        "uploadTable": "u",
        "region": "us-east-2",
        "endpoint": "http://localhost:8000",
        "skip": ["a", "z"],
        "include": ["b", "y"],
    }


@pytest.mark.parametrize(
    ("endpoint", "recorded"),
    [
        ("http://user:secret@db.example:8000/x?y=1", "http://db.example:8000/x?y=1"),
        (
            "https://AKIDEXAMPLE@dynamodb.us-east-2.amazonaws.com",
            "https://dynamodb.us-east-2.amazonaws.com",
        ),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        (None, None),
    ],
)
def test_the_fingerprint_records_the_endpoint_without_its_password(
    tmp_path: Path, endpoint: str | None, recorded: str | None
) -> None:
    checkpoint = open_checkpoint(tmp_path, CountSettings(tables=Tables("c", "u", "r", endpoint)))
    checkpoint.record("did:key:a", 3)
    checkpoint.flush()
    header = orjson.loads(checkpoint.path.read_bytes().splitlines()[0])
    assert header["fingerprint"]["endpoint"] == recorded
    assert b"secret" not in checkpoint.path.read_bytes()


def test_a_checkpoint_of_another_endpoint_is_refused(tmp_path: Path) -> None:
    first = CountSettings(tables=Tables("c", "u", "us-east-2", "http://127.0.0.1:8000"))
    checkpoint = open_checkpoint(tmp_path, first)
    checkpoint.record("did:key:a", 3)
    checkpoint.flush()
    other = CountSettings(tables=Tables("c", "u", "us-east-2", "http://u:pw@127.0.0.1:9000"))
    with pytest.raises(CheckpointMismatch) as caught:
        open_checkpoint(tmp_path, other)
    assert with_flags(caught.value) == (
        f"{checkpoint.path} was made with other tables, endpoint or filters"
        " (endpoint: 'http://127.0.0.1:8000' != 'http://127.0.0.1:9000'):"
        " run the same command as before to resume, or add --restart to discard it"
    )


def test_a_checkpoint_made_before_endpoints_were_recorded_is_refused(tmp_path: Path) -> None:
    """Even for the SDK's default endpoint: nobody can tell which database it counted."""
    old = {
        "distroCheckpoint": 1,
        "fingerprint": {
            "consumerTable": "c",
            "uploadTable": "u",
            "region": "us-east-2",
            "skip": sorted(DEFAULT_SKIP),
            "include": [],
        },
    }
    path = tmp_path / CHECKPOINT_NAME
    path.write_bytes(orjson.dumps(old) + b"\n" + counts_line({"did:key:a": 3}))
    with pytest.raises(CheckpointMismatch) as caught:
        open_checkpoint(tmp_path)
    assert with_flags(caught.value) == (
        f"{path} was made with other tables, endpoint or filters (endpoint: not recorded != None):"
        " run the same command as before to resume, or add --restart to discard it"
    )


def test_a_new_checkpoint_is_written_by_its_first_flush(tmp_path: Path) -> None:
    checkpoint = open_checkpoint(tmp_path)
    path = tmp_path / CHECKPOINT_NAME
    assert checkpoint.path == path
    assert len(checkpoint.resumed) == 0
    assert checkpoint.pending == 0
    assert not path.exists()  # a run that fails before counting leaves nothing behind
    checkpoint.record("did:key:a", 3)
    checkpoint.flush()
    assert path.read_bytes() == header_line() + counts_line({"did:key:a": 3})
    assert sorted(p.name for p in tmp_path.iterdir()) == [CHECKPOINT_NAME]


def test_the_output_directory_is_created(tmp_path: Path) -> None:
    directory = tmp_path / "a" / "b"
    open_checkpoint(directory)
    assert directory.is_dir()
    assert list(directory.iterdir()) == []


def test_recorded_counts_are_on_disk_only_after_flush(tmp_path: Path) -> None:
    checkpoint = open_checkpoint(tmp_path)
    checkpoint.record("did:key:a", 3)
    checkpoint.record("did:key:b", 0)
    assert checkpoint.pending == 2
    assert len(open_checkpoint(tmp_path).resumed) == 0
    checkpoint.flush()
    assert checkpoint.pending == 0
    reopened = open_checkpoint(tmp_path)
    assert_resumes(reopened, {"did:key:a": 3, "did:key:b": 0})


def test_flush_without_pending_counts_writes_nothing(tmp_path: Path) -> None:
    checkpoint = open_checkpoint(tmp_path)
    checkpoint.flush()
    assert not checkpoint.path.exists()
    checkpoint.record("did:key:a", 3)
    checkpoint.flush()
    before = checkpoint.path.read_bytes()
    checkpoint.flush()
    assert checkpoint.path.read_bytes() == before


def test_flushes_accumulate_and_append_only_the_new_records(tmp_path: Path) -> None:
    checkpoint = open_checkpoint(tmp_path)
    checkpoint.record("did:key:a", 3)
    checkpoint.record("did:key:b", 5)
    checkpoint.flush()
    first = checkpoint.path.read_bytes()
    assert first == header_line() + counts_line({"did:key:a": 3, "did:key:b": 5})

    checkpoint.record("did:key:c", 7)
    checkpoint.flush()
    second = checkpoint.path.read_bytes()
    assert second[: len(first)] == first
    assert second[len(first) :] == counts_line({"did:key:c": 7})

    resumed = open_checkpoint(tmp_path)
    assert_resumes(resumed, {"did:key:a": 3, "did:key:b": 5, "did:key:c": 7})
    resumed.record("did:key:d", 1)
    resumed.flush()
    third = resumed.path.read_bytes()
    assert third == second + counts_line({"did:key:d": 1})
    assert_resumes(
        open_checkpoint(tmp_path), {"did:key:a": 3, "did:key:b": 5, "did:key:c": 7, "did:key:d": 1}
    )


def test_a_later_line_overrides_an_earlier_count_of_the_same_space(tmp_path: Path) -> None:
    checkpoint = open_checkpoint(tmp_path)
    checkpoint.record("did:key:a", 3)
    checkpoint.flush()
    checkpoint.record("did:key:a", 4)
    checkpoint.flush()
    assert_resumes(open_checkpoint(tmp_path), {"did:key:a": 4})


def test_a_torn_last_line_is_dropped_and_cut_off(tmp_path: Path) -> None:
    checkpoint = open_checkpoint(tmp_path)
    checkpoint.record("did:key:a", 3)
    checkpoint.flush()
    complete = checkpoint.path.read_bytes()
    torn = counts_line({"did:key:x": 9, "did:key:y": 8})[:15]
    with checkpoint.path.open("ab") as f:
        f.write(torn)

    resumed = open_checkpoint(tmp_path)
    assert_resumes(resumed, {"did:key:a": 3})
    assert checkpoint.path.read_bytes() == complete

    resumed.record("did:key:x", 9)
    resumed.flush()
    assert checkpoint.path.read_bytes() == complete + counts_line({"did:key:x": 9})
    assert_resumes(open_checkpoint(tmp_path), {"did:key:a": 3, "did:key:x": 9})


def test_a_torn_line_right_after_the_header_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / CHECKPOINT_NAME
    path.write_bytes(header_line() + b'{"counts":{"did:k')
    assert len(open_checkpoint(tmp_path).resumed) == 0
    assert path.read_bytes() == header_line()


def test_a_torn_line_that_happens_to_be_valid_json_is_still_dropped(tmp_path: Path) -> None:
    path = tmp_path / CHECKPOINT_NAME
    path.write_bytes(header_line() + counts_line({"did:key:a": 1}).rstrip(b"\n"))
    assert len(open_checkpoint(tmp_path).resumed) == 0
    assert path.read_bytes() == header_line()


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"", id="empty"),
        pytest.param(header_line()[:20], id="cut-inside-header"),
        pytest.param(header_line()[:-1], id="header-without-newline"),
    ],
)
def test_a_file_without_a_complete_header_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / CHECKPOINT_NAME
    path.write_bytes(content)
    with pytest.raises(CheckpointCorrupt) as caught:
        open_checkpoint(tmp_path)
    assert with_flags(caught.value) == (
        f"{path} cannot be read (it has no complete header):"
        " add --restart to discard it and count again"
    )
    assert path.read_bytes() == content


@pytest.mark.parametrize(
    ("header", "why"),
    [
        pytest.param(b"not json\n", "line 1 is not JSON", id="not-json"),
        pytest.param(b"[1, 2]\n", "line 1 is not a JSON object", id="not-an-object"),
        pytest.param(
            b'{"fingerprint": {}}\n',
            "its header is not a distro checkpoint header",
            id="no-format",
        ),
        pytest.param(
            orjson.dumps({**HEADER, "distroCheckpoint": 2}) + b"\n",
            "its header is not a distro checkpoint header",
            id="other-format",
        ),
        pytest.param(
            b'{"distroCheckpoint": 1, "fingerprint": "c"}\n',
            "its header is not a distro checkpoint header",
            id="fingerprint-not-an-object",
        ),
    ],
)
def test_a_corrupt_header_is_refused(tmp_path: Path, header: bytes, why: str) -> None:
    path = tmp_path / CHECKPOINT_NAME
    path.write_bytes(header + counts_line({"did:key:a": 1}))
    with pytest.raises(CheckpointCorrupt) as caught:
        open_checkpoint(tmp_path)
    assert with_flags(caught.value) == (
        f"{path} cannot be read ({why}): add --restart to discard it and count again"
    )


def test_a_corrupt_middle_line_is_refused(tmp_path: Path) -> None:
    path = tmp_path / CHECKPOINT_NAME
    content = (
        header_line()
        + counts_line({"did:key:a": 1})
        + b'{"counts": {"did:key:b"\n'
        + counts_line({"did:key:c": 2})
    )
    path.write_bytes(content)
    with pytest.raises(CheckpointCorrupt, match="line 3 is not JSON") as caught:
        open_checkpoint(tmp_path)
    assert "--restart" in with_flags(caught.value)
    assert path.read_bytes() == content


def test_a_blank_middle_line_is_refused(tmp_path: Path) -> None:
    path = tmp_path / CHECKPOINT_NAME
    path.write_bytes(header_line() + b"\n" + counts_line({"did:key:c": 2}))
    with pytest.raises(CheckpointCorrupt, match="line 2 is not JSON"):
        open_checkpoint(tmp_path)


@pytest.mark.parametrize(
    "entry",
    [
        pytest.param({"counts": {"did:key:a": "3"}}, id="string"),
        pytest.param({"counts": {"did:key:a": 1.5}}, id="float"),
        pytest.param({"counts": {"did:key:a": -1}}, id="negative"),
        pytest.param({"counts": {"did:key:a": True}}, id="bool"),
        pytest.param({"counts": {"did:key:a": None}}, id="null"),
        pytest.param({"counts": {"did:key:a": 1, "did:key:b": -5}}, id="one-bad-of-two"),
        pytest.param({"counts": [1, 2]}, id="list"),
        pytest.param({"other": {}}, id="no-counts"),
    ],
)
def test_invalid_counts_are_refused(tmp_path: Path, entry: dict[str, object]) -> None:
    path = tmp_path / CHECKPOINT_NAME
    path.write_bytes(header_line() + orjson.dumps(entry) + b"\n")
    with pytest.raises(CheckpointCorrupt) as caught:
        open_checkpoint(tmp_path)
    assert with_flags(caught.value) == (
        f"{path} cannot be read (line 2 holds no valid counts):"
        " add --restart to discard it and count again"
    )


def test_a_line_with_empty_counts_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / CHECKPOINT_NAME
    path.write_bytes(header_line() + counts_line({}) + counts_line({"did:key:a": 2}))
    assert_resumes(open_checkpoint(tmp_path), {"did:key:a": 2})


@pytest.mark.parametrize(
    ("other", "field"),
    [
        pytest.param(CountSettings(tables=Tables("c2", "u", "us-east-2")), "consumerTable"),
        pytest.param(CountSettings(tables=Tables("c", "u2", "us-east-2")), "uploadTable"),
        pytest.param(CountSettings(tables=Tables("c", "u", "us-west-2")), "region"),
        pytest.param(CountSettings(tables=TABLES, customer_filter=CustomerFilter(skip=())), "skip"),
        pytest.param(
            CountSettings(tables=TABLES, customer_filter=CustomerFilter(include=("x.org",))),
            "include",
        ),
    ],
)
def test_a_checkpoint_of_other_tables_or_filters_is_refused(
    tmp_path: Path, other: CountSettings, field: str
) -> None:
    checkpoint = open_checkpoint(tmp_path)
    checkpoint.record("did:key:a", 3)
    checkpoint.flush()
    content = checkpoint.path.read_bytes()
    with pytest.raises(CheckpointMismatch) as caught:
        open_checkpoint(tmp_path, other)
    message = with_flags(caught.value)
    assert "--restart" in message
    assert message.startswith(
        f"{checkpoint.path} was made with other tables, endpoint or filters ({field}: "
    )
    assert message.endswith(
        "run the same command as before to resume, or add --restart to discard it"
    )
    assert checkpoint.path.read_bytes() == content


def test_the_mismatch_message_names_both_values(tmp_path: Path) -> None:
    checkpoint = open_checkpoint(tmp_path)
    checkpoint.record("did:key:a", 3)
    checkpoint.flush()
    with pytest.raises(CheckpointMismatch) as caught:
        open_checkpoint(tmp_path, CountSettings(tables=Tables("c2", "u", "us-east-2")))
    assert "(consumerTable: 'c' != 'c2'):" in str(caught.value)


def test_settings_that_do_not_change_counts_resume_the_checkpoint(tmp_path: Path) -> None:
    checkpoint = open_checkpoint(tmp_path)
    checkpoint.record("did:key:a", 3)
    checkpoint.flush()
    other = CountSettings(tables=TABLES, min_uploads=100, parallel_segments=8, concurrency=5)
    assert_resumes(open_checkpoint(tmp_path, other), {"did:key:a": 3})


def test_filter_order_does_not_matter(tmp_path: Path) -> None:
    first = CountSettings(tables=TABLES, customer_filter=CustomerFilter(include=("a", "b")))
    second = CountSettings(tables=TABLES, customer_filter=CustomerFilter(include=("b", "a")))
    checkpoint = open_checkpoint(tmp_path, first)
    checkpoint.record("did:key:a", 3)
    checkpoint.flush()
    assert_resumes(open_checkpoint(tmp_path, second), {"did:key:a": 3})


def test_restart_discards_an_existing_checkpoint(tmp_path: Path) -> None:
    checkpoint = open_checkpoint(tmp_path)
    checkpoint.record("did:key:a", 3)
    checkpoint.flush()
    fresh = Checkpoint.open(PlanFolder(tmp_path), SETTINGS, restart=True)
    assert len(fresh.resumed) == 0
    fresh.record("did:key:b", 1)
    fresh.flush()
    assert fresh.path.read_bytes() == header_line() + counts_line({"did:key:b": 1})
    assert_resumes(open_checkpoint(tmp_path), {"did:key:b": 1})


def test_restart_discards_the_old_checkpoint_before_counting_anything(tmp_path: Path) -> None:
    """A --restart run killed before its first flush must not leave the old counts to resume."""
    checkpoint = open_checkpoint(tmp_path)
    checkpoint.record("did:key:a", 3)
    checkpoint.flush()
    killed = Checkpoint.open(PlanFolder(tmp_path), SETTINGS, restart=True)
    killed.record("did:key:b", 1)  # counted, never flushed: the process dies here
    assert not checkpoint.path.exists()
    assert len(open_checkpoint(tmp_path).resumed) == 0


def test_restart_discards_a_corrupt_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / CHECKPOINT_NAME
    path.write_bytes(b"garbage\n{{{\n")
    fresh = Checkpoint.open(PlanFolder(tmp_path), SETTINGS, restart=True)
    assert len(fresh.resumed) == 0
    fresh.record("did:key:b", 1)
    fresh.flush()
    assert path.read_bytes() == header_line() + counts_line({"did:key:b": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == [CHECKPOINT_NAME]


def test_restart_discards_a_checkpoint_of_other_tables(tmp_path: Path) -> None:
    old = open_checkpoint(tmp_path, CountSettings(tables=Tables("old", "u", "us-east-2")))
    old.record("did:key:a", 3)
    old.flush()
    fresh = Checkpoint.open(PlanFolder(tmp_path), SETTINGS, restart=True)
    assert len(fresh.resumed) == 0
    fresh.record("did:key:b", 1)
    fresh.flush()
    assert_resumes(open_checkpoint(tmp_path), {"did:key:b": 1})


def test_remove_deletes_the_checkpoint(tmp_path: Path) -> None:
    checkpoint = open_checkpoint(tmp_path)
    checkpoint.record("did:key:a", 3)
    checkpoint.flush()
    checkpoint.remove()
    assert not checkpoint.path.exists()
    assert list(tmp_path.iterdir()) == []
    checkpoint.remove()  # a second remove is harmless
    assert len(open_checkpoint(tmp_path).resumed) == 0


def test_an_output_directory_that_is_a_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "state"
    target.write_bytes(b"not a directory")
    with pytest.raises(OutputError) as caught:
        open_checkpoint(target)
    assert (
        with_flags(caught.value)
        == f"output directory {target} is a file: pass another --output-dir"
    )
    assert target.read_bytes() == b"not a directory"


def test_a_directory_at_the_checkpoint_path_is_refused(tmp_path: Path) -> None:
    (tmp_path / CHECKPOINT_NAME).mkdir()
    for restart in (False, True):
        with pytest.raises(CheckpointCorrupt, match="is a directory"):
            Checkpoint.open(PlanFolder(tmp_path), SETTINGS, restart=restart)


def test_a_flush_that_fails_part_way_does_not_corrupt_the_next_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoint = open_checkpoint(tmp_path)
    checkpoint.record("did:key:a", 3)
    checkpoint.flush()

    def short_write_then_fail(fd: int, data: bytes) -> None:
        os.write(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint_module, "write_all", short_write_then_fail)
    checkpoint.record("did:key:b", 5)
    with pytest.raises(OutputError, match=r"No space left on device") as caught:
        checkpoint.flush()
    assert with_flags(caught.value).endswith(
        ": free some space or pass another --output-dir, then run the same command again"
    )
    monkeypatch.undo()

    checkpoint.flush()  # what the pipeline's final flush does after the periodic one failed
    assert_resumes(open_checkpoint(tmp_path), {"did:key:a": 3, "did:key:b": 5})
