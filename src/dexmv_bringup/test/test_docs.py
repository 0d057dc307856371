"""The top README, docs/ and every package README point only at files that exist, and nothing in the
repository points at documents a user does not have."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "src").glob("*/README.md"))]
# an internal design brief that is not part of the repository
OUTSIDE_DOC = "DESIGN" + ".md"
# `path` in backticks under a top-level folder of the repository, or a relative markdown link.
CODE_REF = re.compile(r"`((?:src|tools|deps|docs|docker|requirements|\.ci)/[^`*{}<> ]+)`")
LINK = re.compile(r"\]\((?!https?://|#)([^)#\s]+)")


def test_every_file_reference_exists():
    missing = []
    for doc in DOCS:
        text = doc.read_text()
        for ref in CODE_REF.findall(text):
            if not (ROOT / ref.split(":")[0]).exists():
                missing.append(f"{doc.relative_to(ROOT)}: `{ref}`")
        for ref in LINK.findall(text):
            if not (doc.parent / ref).exists():
                missing.append(f"{doc.relative_to(ROOT)}: ({ref})")
    assert not missing, "\n".join(missing)


def test_nothing_points_outside_the_repository():
    for doc in DOCS:
        text = doc.read_text()
        assert OUTSIDE_DOC not in text and "/work/" not in text and "shared folder" not in text, doc


def test_no_source_file_cites_a_document_the_repository_lacks():
    citing = []
    for folder in ("src", "tools", "requirements", "docs", ".ci"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_file() and path.suffix in {".py", ".md", ".txt", ".yaml", ".xml", ".sh", ""}:
                try:
                    text = path.read_text()
                except (UnicodeDecodeError, OSError):
                    continue
                if OUTSIDE_DOC in text:
                    citing.append(str(path.relative_to(ROOT)))
    assert not citing, citing


def test_top_readme_is_short():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 200
