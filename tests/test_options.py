"""The records a command runs with (``distro.options``), each built and checked by its ``.of``.

No click here: each constructor takes the typed values the CLI gathers, and an
environment, and refuses a bad combination before anything runs.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from distro.errors import SettingsError
from distro.options import (
    Connection,
    CountOptions,
    GenerateOptions,
    ReplanOptions,
    ReportOptions,
    StatusOptions,
)
from distro.settings import DEFAULT_SKIP, Tables

ENVIRON = {"MIGRATION_CUSTOMERS_TABLE_NAME": "my-customers"}


def connection(env: str = "production") -> Connection:
    return Connection.resolve(
        env=env,
        consumer_table=None,
        upload_table="uploads x",
        region=None,
        endpoint_url="http://127.0.0.1:8000",
        environ={},
    )


def count(**given: object) -> CountOptions:
    return CountOptions.of(connection(), output_dir=Path("plans"), **given)  # type: ignore[arg-type]


def test_a_connection_resolves_the_environment_and_spells_what_was_typed() -> None:
    made = connection()
    assert made.tables == Tables(
        "prod-w3infra-consumer", "uploads x", "us-west-2", "http://127.0.0.1:8000"
    )
    assert made.words() == [
        "--upload-table",
        "'uploads x'",
        "--endpoint-url",
        "http://127.0.0.1:8000",
    ]


def test_balancing_by_shards_counts_them_and_the_plan_words_say_so_once() -> None:
    made = count(balance_by="shards", include=("gmail.com,example.org",), skip=("x.org",))
    assert made.settings.count_shards
    assert made.settings.customer_filter.include == ("gmail.com", "example.org")
    assert made.settings.customer_filter.skip == (*DEFAULT_SKIP, "x.org")
    words = shlex.split(" ".join(made.plan_words()))
    assert words.count("--balance-by") == 1
    assert "--count-shards" not in words  # implied by --balance-by shards
    assert words[words.index("--filter") + 1] == "gmail.com"


def test_an_empty_filter_is_refused_rather_than_planning_everyone() -> None:
    with pytest.raises(SettingsError, match="--filter needs a pattern"):
        count(include=(" , ",))


def test_runners_per_host_make_one_worker_files() -> None:
    made = count(runners_per_host=4)
    assert (made.throughput.workers_per_instance, made.throughput.files(3)) == (1, 12)


@pytest.mark.parametrize(
    ("write_tracking", "table", "expected"),
    [(False, None, None), (True, None, "my-customers"), (False, "given", "given")],
)
def test_generate_writes_records_to_the_table_asked_for(
    write_tracking: bool, table: str | None, expected: str | None
) -> None:
    made = GenerateOptions.of(
        count(),
        ReportOptions(),
        instances=3,
        write_tracking=write_tracking,
        assignments_table=table,
        environ=ENVIRON,
    )
    assert (made.instances, made.tracking_table) == (3, expected)


def replan(**given: object) -> ReplanOptions:
    return ReplanOptions.of(connection(), output_dir=Path("plans"), environ={}, **given)  # type: ignore[arg-type]


def test_replan_resolves_the_runners_tables_for_its_environment() -> None:
    made = replan(instances=4, drop_instance=(3, 2))
    assert (made.tracking_table, made.progress_table) == (
        "prod-migration-customers",
        "prod-migration-progress",
    )
    assert made.drop == (2, 3)


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ({"instances": 4, "drop_instance": (3, 3)}, "--drop-instance 3 is given twice"),
        ({"instances": 4, "drop_instance": (0,)}, "--drop-instance 0 is not an instance number"),
        ({"instances": 2, "drop_instance": (1, 2)}, "--drop-instance drops all 2 instances"),
    ],
)
def test_replan_refuses_a_wrong_drop_before_reading_anything(
    given: dict[str, object], words: str
) -> None:
    with pytest.raises(SettingsError, match=words):
        replan(**given)


def test_status_refuses_check_with_watch_for_cron() -> None:
    with pytest.raises(SettingsError, match="check takes one look"):
        StatusOptions.of(
            connection("staging"), output_dir=Path("plans"), check=True, watch=10.0, environ={}
        )
    made = StatusOptions.of(
        connection("staging"), output_dir=Path("plans"), check=True, environ=ENVIRON
    )
    assert (made.tracking_table, made.progress_table) == (
        "my-customers",
        "staging-migration-progress",
    )
