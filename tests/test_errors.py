"""The error family: every exit code a class attribute, every fix worded as flags."""

from __future__ import annotations

import inspect

import pytest

from distro import errors
from distro.errors import DistroError, Fix, SettingsError
from distro.flags import FLAG_HINTS, with_flags

EXPECTED_EXIT_CODES = {
    "SettingsError": 2,
    "Interrupted": 130,
    "Terminated": 143,
}


def error_classes() -> list[type[DistroError]]:
    return [c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, DistroError)]


@pytest.mark.parametrize("error", error_classes(), ids=lambda c: c.__name__)
def test_every_error_carries_its_exit_code_and_a_docstring(error: type[DistroError]) -> None:
    assert "exit_code" in {n for c in error.__mro__ for n in vars(c)}
    assert error.exit_code == EXPECTED_EXIT_CODES.get(error.__name__, 1)
    assert (error.__doc__ or "").strip()
    # The exit code is the class's, not something each raise site chooses.
    assert error("x").exit_code == error.exit_code


def test_every_fix_has_its_advice() -> None:
    assert set(FLAG_HINTS) == set(Fix)
    for fix, hint in FLAG_HINTS.items():
        assert "--" in hint, fix


def test_a_setting_reads_as_its_flag_and_the_fix_is_appended() -> None:
    error = SettingsError("min_uploads must be at least 0, got -1", setting="min_uploads")
    assert with_flags(error) == "--min-uploads must be at least 0, got -1"
    refused = DistroError("cannot write here", fix=Fix.OUTPUT_DIR)
    assert with_flags(refused) == "cannot write here: pass another --output-dir"
