"""The code cites the project's own documents, never a file outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CITED = re.compile(r"``(docs/[\w./-]+\.md)``")


def sources() -> list[Path]:
    return sorted([*ROOT.glob("distro/**/*.py"), *ROOT.glob("tests/*.py")])


def test_every_document_the_code_cites_is_in_the_repository() -> None:
    cited = {name for path in sources() for name in CITED.findall(path.read_text())}
    assert "docs/runner-contract.md" in cited
    assert sorted(name for name in cited if not (ROOT / name).is_file()) == []


def test_no_code_cites_the_shared_data_model_outside_the_repository() -> None:
    citing = [p.name for p in sources() if p != Path(__file__) and "DATA_MODEL" in p.read_text()]
    assert citing == []
