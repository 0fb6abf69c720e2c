"""An install that breaks nothing beside it: this project beside PyPI's ``distro`` in one venv.

The project is built as a wheel and installed, as pip installs it, into fresh
virtual environments, one holding PyPI's ``distro`` too (its wheel fetched once into
the ignored cache, as DynamoDB Local is). The dependencies come from the project's
own ``.venv`` through a path file, so nothing else is downloaded.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from distro.clash import clash_line

ROOT = Path(__file__).resolve().parent.parent
WHEELS = ROOT / ".cache" / "wheels"
PYPI_DISTRO = "distro==1.9.0"


def pip(*args: str | Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """PyPI's distro wheel (cached) and this project's, built now."""
    WHEELS.mkdir(parents=True, exist_ok=True)
    if not list(WHEELS.glob("distro-1.9.0-*.whl")):
        pip("download", "--quiet", "--no-deps", "--dest", WHEELS, PYPI_DISTRO)
    built = tmp_path_factory.mktemp("built")
    pip("wheel", "--quiet", "--no-deps", "--wheel-dir", built, ROOT)
    (pypi,) = WHEELS.glob("distro-1.9.0-*.whl")
    (ours,) = built.glob("distro_planner-*.whl")
    return pypi, ours


def venv_with(path: Path, *installed: Path) -> tuple[Path, str]:
    """A fresh venv at *path* with the *installed* wheels, in order, and the project's
    dependencies on its path; its bin folder, and what pip said."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", path], check=True)
    python = path / "bin" / "python"
    said = "".join(
        pip("--python", python, "install", "--no-deps", "--no-index", wheel) for wheel in installed
    )
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(site) / "project-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return path / "bin", said


def run(command: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [command, *map(str, args)], capture_output=True, text=True, timeout=60, check=False
    )


def test_beside_pypis_distro_it_installs_as_its_own_and_says_what_clashes(
    wheels: tuple[Path, Path], tmp_path: Path
) -> None:
    pypi, ours = wheels
    bin_dir, said = venv_with(tmp_path / "both", pypi, ours)
    assert "Uninstalling" not in said  # pip sees two distributions, and removes neither
    assert "Successfully installed distro-planner-0.1.0" in said
    version = run(bin_dir / "distro", "--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout == "distro, version 0.1.0\n"
    assert version.stderr == clash_line("1.9.0") + "\n"
    # A command that works on files alone runs, after the one warning line.
    missing = run(bin_dir / "distro", "verify", "--output-dir", tmp_path / "none")
    assert missing.returncode == 1
    warning, error = missing.stderr.splitlines()
    assert warning == clash_line("1.9.0")
    assert error.startswith("Error: ")
    assert "Traceback" not in missing.stderr


def test_on_its_own_it_says_nothing_of_pypis_distro(
    wheels: tuple[Path, Path], tmp_path: Path
) -> None:
    _, ours = wheels
    bin_dir, _ = venv_with(tmp_path / "alone", ours)
    version = run(bin_dir / "distro", "--version")
    assert (version.returncode, version.stdout, version.stderr) == (
        0,
        "distro, version 0.1.0\n",
        "",
    )
