"""Run distro as a module: python -m distro."""

from distro.cli import main

main()
