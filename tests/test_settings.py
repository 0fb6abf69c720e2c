"""Settings: customer filters, pattern options, table resolution and range checks."""

from __future__ import annotations

import pytest

from distro.errors import SettingsError
from distro.flags import with_flags
from distro.settings import (
    DEFAULT_SKIP,
    CountSettings,
    CustomerFilter,
    Tables,
    Throughput,
    Verdict,
    require_instances,
    resolve_tables,
    split_patterns,
)

TABLES = Tables("c", "u", "us-east-2")

# --- CustomerFilter.classify ---------------------------------------------------------------


def test_default_skip_list() -> None:
    assert CustomerFilter().skip == (
        "did:mailto:mailslurp.biz",
        "did:mailto:mailslurp.com",
        "did:mailto:mailslurp.net",
    )
    assert CustomerFilter().skip == DEFAULT_SKIP
    assert CustomerFilter().include == ()


@pytest.mark.parametrize(
    ("customer", "verdict"),
    [
        ("did:mailto:mailslurp.com", Verdict.SKIPPED),
        ("did:mailto:mailslurp.com:ci-123", Verdict.SKIPPED),
        ("did:mailto:mailslurp.biz:x", Verdict.SKIPPED),
        ("did:mailto:mailslurp.net:x:y", Verdict.SKIPPED),
        ("did:mailto:mailslurp.community:x", Verdict.INCLUDED),
        ("did:mailto:mailslurp.comx", Verdict.INCLUDED),
        ("did:mailto:mailslurp.co", Verdict.INCLUDED),
        ("did:mailto:gmail.com:mailslurp.com", Verdict.INCLUDED),
        ("xdid:mailto:mailslurp.com:x", Verdict.INCLUDED),
        ("did:mailto:example.org:alice", Verdict.INCLUDED),
    ],
)
def test_default_skip_matches_equal_or_pattern_colon_prefix(
    customer: str, verdict: Verdict
) -> None:
    assert CustomerFilter().classify(customer) is verdict


@pytest.mark.parametrize(
    ("customer", "verdict"),
    [
        ("storacha.network", Verdict.INCLUDED),
        ("storacha.network:alice", Verdict.INCLUDED),
        ("did:mailto:storacha.network:alice", Verdict.INCLUDED),
        ("did:mailto:storacha.network", Verdict.FILTERED),
        ("did:mailto:storacha.networks:alice", Verdict.FILTERED),
        ("did:mailto:my-storacha.network:alice", Verdict.FILTERED),
        ("did:mailto:example.org:storacha.network", Verdict.FILTERED),
        ("did:mailto:example.org:alice", Verdict.FILTERED),
    ],
)
def test_include_matches_equal_prefix_or_colon_surrounded(customer: str, verdict: Verdict) -> None:
    assert CustomerFilter(include=("storacha.network",)).classify(customer) is verdict


def test_include_with_a_full_did_prefix() -> None:
    only = CustomerFilter(include=("did:mailto:example.org",))
    assert only.classify("did:mailto:example.org") is Verdict.INCLUDED
    assert only.classify("did:mailto:example.org:bob") is Verdict.INCLUDED
    assert only.classify("did:mailto:example.org.uk:bob") is Verdict.FILTERED


def test_any_include_pattern_admits_a_customer() -> None:
    some = CustomerFilter(include=("a.org", "b.org"))
    assert some.classify("did:mailto:a.org:x") is Verdict.INCLUDED
    assert some.classify("did:mailto:b.org:y") is Verdict.INCLUDED
    assert some.classify("did:mailto:c.org:z") is Verdict.FILTERED


def test_skip_wins_over_include() -> None:
    both = CustomerFilter(include=("mailslurp.com",))
    assert both.classify("did:mailto:mailslurp.com:ci") is Verdict.SKIPPED


def test_an_empty_skip_list_skips_nobody() -> None:
    none = CustomerFilter(skip=())
    assert none.classify("did:mailto:mailslurp.com:ci") is Verdict.INCLUDED


def test_a_custom_skip_list() -> None:
    custom = CustomerFilter(skip=("did:mailto:test.org",))
    assert custom.classify("did:mailto:test.org:x") is Verdict.SKIPPED
    assert custom.classify("did:mailto:test.org") is Verdict.SKIPPED
    assert custom.classify("did:mailto:test.organic:x") is Verdict.INCLUDED
    assert custom.classify("did:mailto:mailslurp.com:x") is Verdict.INCLUDED


# --- split_patterns ------------------------------------------------------------------------


def test_split_patterns_flattens_commas_and_repeats_and_drops_blanks() -> None:
    values = ["a.org,b.org", " c.org ", "", " , ,", "d.org,,e.org,", "a.org"]
    assert split_patterns(values) == ("a.org", "b.org", "c.org", "d.org", "e.org", "a.org")


def test_split_patterns_of_nothing() -> None:
    assert split_patterns([]) == ()
    assert split_patterns(["", ","]) == ()


def test_split_patterns_accepts_any_iterable() -> None:
    assert split_patterns(v for v in ("x", "y,z")) == ("x", "y", "z")


# --- resolve_tables ------------------------------------------------------------------------


def resolve(
    *,
    env: str | None = None,
    consumer_table: str | None = None,
    upload_table: str | None = None,
    region: str | None = None,
    endpoint_url: str | None = None,
    environ: dict[str, str] | None = None,
) -> Tables:
    return resolve_tables(
        env=env,
        consumer_table=consumer_table,
        upload_table=upload_table,
        region=region,
        endpoint_url=endpoint_url,
        environ=environ or {},
    )


def test_staging_is_the_default_environment() -> None:
    assert resolve() == Tables(
        "staging-w3infra-consumer", "staging-w3infra-upload", "us-east-2", None
    )


def test_staging_option() -> None:
    assert resolve(env="staging") == Tables(
        "staging-w3infra-consumer", "staging-w3infra-upload", "us-east-2", None
    )


def test_production_option() -> None:
    assert resolve(env="production") == Tables(
        "prod-w3infra-consumer", "prod-w3infra-upload", "us-west-2", None
    )


def test_storacha_env_variable_selects_the_environment() -> None:
    assert resolve(environ={"STORACHA_ENV": "production"}) == Tables(
        "prod-w3infra-consumer", "prod-w3infra-upload", "us-west-2", None
    )


def test_env_option_beats_storacha_env_variable() -> None:
    assert resolve(env="staging", environ={"STORACHA_ENV": "production"}) == Tables(
        "staging-w3infra-consumer", "staging-w3infra-upload", "us-east-2", None
    )


def test_variables_beat_environment_defaults() -> None:
    environ = {
        "STORACHA_ENV": "production",
        "CONSUMER_TABLE_NAME": "my-consumer",
        "UPLOAD_TABLE_NAME": "my-upload",
        "AWS_REGION": "eu-central-1",
    }
    assert resolve(environ=environ) == Tables("my-consumer", "my-upload", "eu-central-1", None)


def test_options_beat_variables() -> None:
    environ = {
        "CONSUMER_TABLE_NAME": "var-consumer",
        "UPLOAD_TABLE_NAME": "var-upload",
        "AWS_REGION": "eu-central-1",
    }
    assert resolve(
        env="production",
        consumer_table="opt-consumer",
        upload_table="opt-upload",
        region="ap-south-1",
        endpoint_url="http://localhost:8000",
        environ=environ,
    ) == Tables("opt-consumer", "opt-upload", "ap-south-1", "http://localhost:8000")


def test_each_value_resolves_on_its_own() -> None:
    assert resolve(
        env="production", upload_table="opt-upload", environ={"CONSUMER_TABLE_NAME": "var-c"}
    ) == Tables("var-c", "opt-upload", "us-west-2", None)


def test_aws_region_beats_aws_default_region() -> None:
    assert resolve(environ={"AWS_DEFAULT_REGION": "eu-west-1"}).region == "eu-west-1"
    both = {"AWS_REGION": "eu-west-2", "AWS_DEFAULT_REGION": "eu-west-1"}
    assert resolve(environ=both).region == "eu-west-2"


def test_blank_variables_count_as_unset() -> None:
    environ = {"STORACHA_ENV": "", "CONSUMER_TABLE_NAME": "", "AWS_REGION": ""}
    assert resolve(environ=environ) == Tables(
        "staging-w3infra-consumer", "staging-w3infra-upload", "us-east-2", None
    )


def test_the_process_environment_is_not_read_when_environ_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONSUMER_TABLE_NAME", "from-process")
    monkeypatch.setenv("AWS_REGION", "eu-north-1")
    assert resolve(environ={}) == Tables(
        "staging-w3infra-consumer", "staging-w3infra-upload", "us-east-2", None
    )


@pytest.mark.parametrize(
    ("env", "environ"),
    [("dev", {}), ("Production", {}), (None, {"STORACHA_ENV": "prod"})],
)
def test_an_unknown_environment_names_the_known_ones(
    env: str | None, environ: dict[str, str]
) -> None:
    name = env or environ["STORACHA_ENV"]
    with pytest.raises(SettingsError) as caught:
        resolve(env=env, environ=environ)
    assert str(caught.value) == f"unknown environment {name!r}: use one of staging, production"


# --- range checks --------------------------------------------------------------------------


def test_count_settings_defaults() -> None:
    settings = CountSettings(tables=TABLES)
    assert settings.customer_filter == CustomerFilter()
    assert settings.parallel_segments == 4
    assert settings.concurrency == 20
    assert settings.min_uploads == 0


@pytest.mark.parametrize("segments", [1, 10])
def test_parallel_segments_bounds_are_accepted(segments: int) -> None:
    assert CountSettings(tables=TABLES, parallel_segments=segments).parallel_segments == segments


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"parallel_segments": 0}, "--parallel-segments must be between 1 and 10, got 0"),
        ({"parallel_segments": 11}, "--parallel-segments must be between 1 and 10, got 11"),
        ({"concurrency": 0}, "--concurrency must be between 1 and 1000, got 0"),
        ({"min_uploads": -1}, "--min-uploads must be at least 0, got -1"),
    ],
)
def test_count_settings_out_of_range_are_refused(options: dict[str, int], message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        CountSettings(tables=TABLES, **options)  # type: ignore[arg-type]
    assert with_flags(caught.value) == message


def test_throughput_days() -> None:
    assert Throughput(workers_per_instance=10).days(27 * 10 * 60 * 24) == 1.0
    assert Throughput().days(27 * 10 * 60 * 24) == 1.0
    assert Throughput(workers_per_instance=5).days(27 * 10 * 60 * 24) == 2.0
    assert Throughput(uploads_per_minute=54.0).days(27 * 10 * 60 * 24) == 0.5
    assert Throughput().days(0) == 0.0


def test_throughput_out_of_range_is_refused() -> None:
    with pytest.raises(SettingsError) as caught:
        Throughput(workers_per_instance=0)
    assert with_flags(caught.value) == "--workers-per-instance must be at least 1, got 0"
    for rate in (0.0, float("nan")):
        with pytest.raises(SettingsError) as caught:
            Throughput(uploads_per_minute=rate)
        assert with_flags(caught.value) == "--uploads-per-minute must be greater than 0"


def test_require_instances() -> None:
    assert require_instances(1) == 1
    with pytest.raises(SettingsError) as caught:
        require_instances(0)
    assert str(caught.value) == "instances must be at least 1, got 0"
    assert with_flags(caught.value) == "--instances must be at least 1, got 0"


def test_nothing_below_the_command_line_and_the_settings_reads_the_environment() -> None:
    """Configuration is resolved once: only ``distro/cli/`` and ``settings.py`` read it."""
    import ast  # noqa: PLC0415 - this test alone reads source
    from pathlib import Path  # noqa: PLC0415

    package = Path(__file__).resolve().parent.parent / "distro"
    readers = []
    for path in sorted(package.rglob("*.py")):
        name = path.relative_to(package).as_posix()
        if name.startswith("cli/") or name == "settings.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            reads = (isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv")) or (
                isinstance(node, ast.ImportFrom)
                and node.module == "os"
                and any(a.name in ("environ", "getenv") for a in node.names)
            )
            if reads:
                readers.append(f"{name}:{node.lineno}")
    assert readers == []
