"""The one exception family of distro.

Every failure a user can cause or fix is a ``DistroError``; its message is one
line that names the problem and the fix, in the words of the library: no
command-line flag. An error may also carry the *setting* its message starts
with (``"concurrency"``) and a *fix*, the key of the advice that names the
flag to change; the CLI alone turns them into output, flags and exit codes.

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
    └── LocalDynamoError       DynamoDB Local cannot be installed or started
"""

from __future__ import annotations


class DistroError(Exception):
    """Base of every error distro reports as one line; *setting* and *fix* let the CLI name flags."""

    def __init__(self, message: str, *, setting: str | None = None, fix: str | None = None) -> None:
        super().__init__(message)
        self.setting = setting
        self.fix = fix


class SettingsError(DistroError):
    """An option or environment value is invalid."""


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


class LocalDynamoError(DistroError):
    """DynamoDB Local cannot be installed or started."""
