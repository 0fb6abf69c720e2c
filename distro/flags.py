"""How an error reads on the command line: its setting spelt as a flag, its fix as advice.

The library's messages name settings (``concurrency must be ...``) and carry a
``Fix``; this module words both the way a user of ``distro`` types them. It
imports no click, so the application layer and the tests of lower layers read
an error exactly as the CLI prints it.
"""

from __future__ import annotations

from collections.abc import Mapping

from distro.errors import DistroError, Fix
from distro.settings import TABLE_VARIABLE

# The advice each kind of failure gets, naming the flags to change. A test holds it
# complete: every ``Fix`` has a line here.
FLAG_HINTS: Mapping[Fix, str] = {
    Fix.TABLE_NAME: "; check --env, the table options and --region",
    Fix.TABLES: ": check --env, --consumer-table and --upload-table",
    Fix.TRACKING_TABLE: ": check --env and --assignments-table",
    Fix.TRACKING_TABLE_NAME: f": check --assignments-table or ${TABLE_VARIABLE}",
    Fix.TRACKING_TABLE_MISSING: (
        f"; check --env and --assignments-table (or ${TABLE_VARIABLE}): "
        "the runner's deployment creates this table"
    ),
    Fix.PROGRESS_TABLE: (
        "; check --env and --progress-table (or $MIGRATION_PROGRESS_TABLE_NAME): "
        "the runner's deployment creates this table"
    ),
    Fix.THROTTLING: " (if DynamoDB is throttling, lower --concurrency or set --max-read-units)",
    Fix.ENDPOINT: ": check --endpoint-url (or AWS_ENDPOINT_URL) and --region",
    Fix.HTTPS: (
        ": if it serves HTTPS, use an https:// --endpoint-url; otherwise check the network "
        "and run the same command again to resume"
    ),
    Fix.NETWORK: "; check --endpoint-url, --region and the network",
    Fix.READER: "; use --reader auto or sdk",
    Fix.READER_SDK: "; run analyze and generate with --reader sdk",
    Fix.OUTPUT_DIR: ": pass another --output-dir",
    Fix.LOCKED: ", or pass another --output-dir",
    Fix.CHECKPOINT_SPACE: (
        ": free some space or pass another --output-dir, then run the same command again"
    ),
    Fix.RESTART: ", or add --restart to discard it",
    Fix.RESTART_CORRUPT: ": add --restart to discard it and count again",
    Fix.REPORT_HTML: ": pass another --report-html",
    Fix.REPORT_HTML_PATH: "; pass another --report-html",
    Fix.PROMETHEUS_PATH: "; pass another --prometheus",
    Fix.FILTERS: ": check --filter, --skip and --min-uploads",
    Fix.FORCE: "; to put pending records for a fresh plan anyway, add --force",
}


def flag(setting: str) -> str:
    """The long option that sets *setting*: ``min_uploads`` is ``--min-uploads``."""
    return "--" + setting.replace("_", "-")


def with_flags(error: DistroError) -> str:
    """*error*'s line as a user of the command line reads it: its setting as a flag, its advice.

    A message that starts with its setting (``concurrency must be ...``) starts
    with the flag instead; the advice for its *fix* names the flags to change.
    """
    message = str(error)
    setting = error.setting
    if setting is not None and message.startswith(setting):
        message = flag(setting) + message[len(setting) :]
    return message + (FLAG_HINTS[error.fix] if error.fix is not None else "")
