"""``python -m distro.local install|serve``: install or run DynamoDB Local by hand."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from distro.errors import LocalDynamoError
from distro.local.dynamodb import LocalDynamo
from distro.local.install import ensure_installed


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m distro.local install|serve`: install or run DynamoDB Local by hand."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "install":
            print(ensure_installed())
            return 0
        return _serve(args.port, args.data_dir)
    except LocalDynamoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    """Arguments of the debugging command line."""
    parser = argparse.ArgumentParser(
        prog="python -m distro.local", description="Install or run DynamoDB Local by hand."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("install", help="install DynamoDB Local and print its folder")
    serve = commands.add_parser("serve", help="run DynamoDB Local until Ctrl-C")
    serve.add_argument("--port", type=int, default=None, help="port (default: a free one)")
    serve.add_argument(
        "--data-dir", type=Path, default=None, help="keep tables here (default: memory)"
    )
    return parser


def _serve(port: int | None, data_dir: Path | None) -> int:
    """Run a server in the foreground until Ctrl-C or until it exits by itself."""
    # `kill PID` should stop java as cleanly as Ctrl-C does, and leave no log behind.
    signal.signal(signal.SIGTERM, _interrupt)
    with LocalDynamo(port=port, data_dir=data_dir) as server:
        storage = "in memory" if data_dir is None else f"in {data_dir}"
        print(f"DynamoDB Local at {server.endpoint_url}, tables {storage}; Ctrl-C stops it")
        print(f"log: {server.log_path}", flush=True)
        try:
            code = server.wait()
        except KeyboardInterrupt:
            return 0
        print(
            f"error: DynamoDB Local exited with code {code}: {server.output_tail()}",
            file=sys.stderr,
        )
        return 1


def _interrupt(signum: int, frame: object) -> None:
    """Signal handler that turns a signal into Ctrl-C."""
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
