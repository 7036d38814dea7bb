"""Every Markdown document the sources and docs cite exists.

A docstring, comment or README that cites a Markdown file must name a file of the repository,
found relative to the citing file's folder or to the repository root (``../shared/`` documents
live outside the repository and are skipped).
"""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
SOURCES = ("*.py", "*.md", "*.c", "*.h", "*.S", "*.cpp", "Makefile")
#: Documents written by a command at run time (under build/), not kept in the repository.
GENERATED = {"npu_bench.md", "coverage.md"}
CITATION = re.compile(r"(?<![\w./-])((?:\.\./|[\w-]+/)*[\w-]+\.md)\b")


def _files():
    for pattern in SOURCES:
        for path in ROOT.rglob(pattern):
            if not {".venv", "build", ".git"} & set(path.relative_to(ROOT).parts):
                yield path


def test_cited_documents_exist():
    missing = []
    for path in _files():
        for lineno, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            for cited in CITATION.findall(line):
                if "shared/" in cited or pathlib.PurePath(cited).name in GENERATED:
                    continue
                if not ((path.parent / cited).exists() or (ROOT / cited).exists()):
                    missing.append(f"{path.relative_to(ROOT)}:{lineno}: {cited}")
    assert not missing, "documents cited but not in the repository:\n" + "\n".join(missing)
