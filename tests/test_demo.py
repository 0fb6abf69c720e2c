"""The demo as a new user tries it: keep its database running, point commands at it, stop it."""

from __future__ import annotations

import shlex
import signal
import socket
from pathlib import Path
from urllib.parse import urlsplit

from helpers import finish, invoke, start

from distro.local.dynamodb import local_client_env


def answers(endpoint: str) -> bool:
    """Whether something listens at *endpoint*'s host and port."""
    parts = urlsplit(endpoint)
    assert parts.hostname is not None
    assert parts.port is not None
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex((parts.hostname, parts.port)) == 0


def test_a_kept_demo_serves_the_commands_it_prints_until_ctrl_c(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    demo = start("demo", "--keep", "--quiet", "--customers", "20", "--output-dir", out)
    assert demo.stderr is not None
    said: list[str] = []
    for line in demo.stderr:  # the instructions end the session's lines
        said.append(line.rstrip("\n"))
        if line.startswith("  distro replan "):
            break
    first = next(n for n, line in enumerate(said) if line.startswith("DynamoDB Local keeps"))
    endpoint = said[first].split(" at ")[1].split(",")[0]
    assert answers(endpoint)
    assert said[first + 1] == "  export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local"
    commands = [shlex.split(line)[1:] for line in said[first + 2 :]]
    assert [c[0] for c in commands] == ["check", "analyze", "generate", "replan"]

    keys = local_client_env()
    for command in commands:  # each runs as printed, against the kept tables
        result = invoke(*command, env=keys)
        assert result.returncode == 0, (command, result.stderr)
    assert "Total customers" in invoke(*commands[1], env=keys).stdout

    demo.send_signal(signal.SIGINT)
    finish(demo)
    assert demo.returncode == 0
    assert not answers(endpoint)  # Ctrl-C stopped the database too
