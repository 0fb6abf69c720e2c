"""The code cites the project's own documents, never a file outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

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


README = ROOT / "README.md"
LINK = re.compile(r"\]\(([^)#\s]+\.(?:md|png))?(?:#([\w-]+))?\)")


def anchors(path: Path) -> set[str]:
    """The anchors of *path*'s headings, as GitHub makes them."""
    found = set()
    for line in path.read_text().splitlines():
        if line.startswith("#") and not line.startswith("#!"):
            title = line.lstrip("#").strip().lower()
            found.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return found


def test_the_readme_is_read_in_ten_minutes() -> None:
    assert len(README.read_text().splitlines()) <= 250


@pytest.mark.parametrize(
    "page", [README, *sorted((ROOT / "docs").glob("*.md"))], ids=lambda p: p.name
)
def test_every_link_between_the_documents_leads_somewhere(page: Path) -> None:
    for target, anchor in LINK.findall(page.read_text()):
        linked = (page.parent / target).resolve() if target else page
        assert linked.is_file(), f"{page.name}: {target}"
        if anchor:
            assert anchor in anchors(linked), f"{page.name}: {target}#{anchor}"
