"""The one exception family of distro.

Every failure a user can cause or fix is a ``DistroError``; its message is one
line that names the problem and the fix, in the words of the library: no
command-line flag. An error may also carry the *setting* its message starts
with (``"concurrency"``) and a *fix* (a ``Fix``), which ``distro.flags`` words
as the flags to change. Its class decides the exit code (``exit_code``, as
click's own exceptions do) and the word the line starts with (``label``).

    DistroError
    ├── SettingsError          an option or environment value is invalid (usage)
    ├── AwsSetupError          credentials, endpoint or permissions
    │   ├── AwsConfigError
    │   ├── CredentialsMissing
    │   ├── CredentialsUnavailable
    │   ├── SsoLoginNeeded
    │   ├── CredentialsRejected
    │   ├── EndpointUnreachable
    │   ├── NotDynamoDB
    │   └── AccessDenied
    ├── TableError             the tables are not what distro reads
    │   ├── TableNotFound
    │   └── TableSchemaMismatch
    ├── CountingFailed         a DynamoDB call kept failing after every retry
    ├── CheckpointError        the checkpoint cannot be used as it is
    │   ├── CheckpointMismatch
    │   └── CheckpointCorrupt
    ├── OutputError            the output directory cannot take the files
    │   └── OutputLocked       another distro run is using the output directory
    ├── WriteIncomplete        DynamoDB would not take every item of a batch write
    ├── NothingToPlan          every customer was filtered out
    ├── ReplanRefused          a re-plan would move a customer the runner has started
    ├── MigrationUnderWay      generate --write-tracking on a table the runner has started
    ├── PlanMismatch           the instance files no longer match their manifest
    ├── PathsDisagree          the SDK and the lean Query path count differently
    ├── Declined               the user answered no: nothing was written        (exit 1)
    ├── LocalDynamoError       DynamoDB Local cannot be installed or started
    └── Stopped                a signal stopped the run; progress is saved
        ├── Interrupted        SIGINT (Ctrl-C)                                  (exit 130)
        └── Terminated         SIGTERM                                          (exit 143)
"""

from __future__ import annotations

from enum import Enum
from typing import ClassVar


class Fix(Enum):
    """What a user changes to mend an error; ``distro.flags`` words each one as flags."""

    TABLE_NAME = "table_name"
    TABLES = "tables"
    TRACKING_TABLE = "tracking_table"
    TRACKING_TABLE_NAME = "tracking_table_name"
    TRACKING_TABLE_MISSING = "tracking_table_missing"
    PROGRESS_TABLE = "progress_table"
    THROTTLING = "throttling"
    ENDPOINT = "endpoint"
    HTTPS = "https"
    NETWORK = "network"
    READER = "reader"
    READER_SDK = "reader_sdk"
    OUTPUT_DIR = "output_dir"
    LOCKED = "locked"
    CHECKPOINT_SPACE = "checkpoint_space"
    RESTART = "restart"
    RESTART_CORRUPT = "restart_corrupt"
    REPORT_HTML = "report_html"
    REPORT_HTML_PATH = "report_html_path"
    PROMETHEUS_PATH = "prometheus_path"
    FORCE = "force"
    FILTERS = "filters"


EXIT_FAILURE = 1
EXIT_USAGE = 2
# distro status --check, for cron and CI: something needs a person.
EXIT_STALLED = 3  # an instance has work left but no record changed within the stall time
EXIT_FAILED_CUSTOMERS = 4  # the runner marked customers failed
EXIT_UNREADABLE = 5  # the runner's tables could not be read
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_TERMINATED = 143  # 128 + SIGTERM


class DistroError(Exception):
    """Base of every error distro reports as one line; *setting* and *fix* let the CLI name flags."""

    exit_code: ClassVar[int] = EXIT_FAILURE
    label: ClassVar[str] = "Error"

    def __init__(self, message: str, *, setting: str | None = None, fix: Fix | None = None) -> None:
        super().__init__(message)
        self.setting = setting
        self.fix = fix


class SettingsError(DistroError):
    """An option or environment value is invalid."""

    exit_code = EXIT_USAGE


class AwsSetupError(DistroError):
    """The AWS client cannot be used as configured."""


class AwsConfigError(AwsSetupError):
    """The AWS config or credentials files name no such profile, or cannot be parsed."""


class CredentialsMissing(AwsSetupError):
    """No AWS credentials were found in the standard credential chain."""


class CredentialsUnavailable(AwsSetupError):
    """The profile's way of getting credentials (a credential_process, ...) failed."""


class SsoLoginNeeded(AwsSetupError):
    """The profile uses SSO and has no valid cached token."""


class CredentialsRejected(AwsSetupError):
    """DynamoDB does not accept the credentials: unknown key, wrong secret, expired token."""


class EndpointUnreachable(AwsSetupError):
    """The DynamoDB endpoint does not answer."""


class NotDynamoDB(AwsSetupError):
    """The endpoint answers, but not as DynamoDB does."""


class AccessDenied(AwsSetupError):
    """The credentials are not allowed to make a call on a table."""


class TableError(DistroError):
    """A table is not what distro expects."""


class TableNotFound(TableError):
    """A table does not exist in the region or endpoint."""


class TableSchemaMismatch(TableError):
    """A table exists but lacks the key schema distro reads."""


class CountingFailed(DistroError):
    """A DynamoDB call failed after every retry; progress is kept in the checkpoint."""


class CheckpointError(DistroError):
    """The counting checkpoint cannot be used as it is."""


class CheckpointMismatch(CheckpointError):
    """The checkpoint was made with other tables, another endpoint or other filters."""


class CheckpointCorrupt(CheckpointError):
    """The checkpoint file cannot be read."""


class OutputError(DistroError):
    """The output directory cannot take the instance files."""


class OutputLocked(OutputError):
    """Another distro run holds the output directory's lock."""


class WriteIncomplete(DistroError):
    """DynamoDB kept handing back a batch write's items unprocessed."""


class NothingToPlan(DistroError):
    """No customer is left after the filters."""


class ReplanRefused(DistroError):
    """A re-plan would have to move an in-progress customer, so it is not made."""


class MigrationUnderWay(DistroError):
    """The tracking table holds started customers: a fresh plan would not match the fleet."""


class PlanMismatch(DistroError):
    """The instance files in a folder no longer match the manifest written with them."""


class PathsDisagree(DistroError):
    """The SDK and the lean Query path do not count the same space alike."""


class Declined(DistroError):
    """The user answered no to a question: nothing was written."""


class LocalDynamoError(DistroError):
    """DynamoDB Local cannot be installed or started."""


class Stopped(DistroError):
    """A signal stopped the run; what was counted is saved in the checkpoint."""

    label = "Interrupted"


class Interrupted(Stopped):
    """The run was interrupted with SIGINT (Ctrl-C)."""

    exit_code = EXIT_INTERRUPTED


class Terminated(Stopped):
    """The run was stopped with SIGTERM."""

    exit_code = EXIT_TERMINATED
