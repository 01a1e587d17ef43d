"""Documents describe the code and the results, not how they came about.

README.md, REPORT.md, results/*/README.md and docs/ are read by users: no issue or
stop numbers, no sessions, nothing "lent", no first person. History belongs in
commit messages.
"""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
SKIP = {".git", ".venv", "tests", "runs", "workdirs", "_build", "node_modules", "build", ".pytest_cache"}

HISTORY = re.compile("|".join([
    r"\bissues? ?#?\d+",          # issue 12, issue #12
    r"\bstops? ?#?\d+",           # stop 7
    r"\bsessions?\b",
    r"\blent\b",
    r"\bold layout\b", r"\blayout change\b",
    r"\bthis task\b",
    r"\bI\b(?= (?:could|couldn't|did|didn't|have|had|am|was|tried|ran|found|checked|measured|think|used|use|"
    r"will|would|can|cannot|saw|kept|chose|made)\b)",
    r"\bI'(?:m|ve|d|ll)\b",
    r"\b(?:[Ww]e|[Ww]e're|[Ww]e've|[Ww]e'd|[Oo]ur|[Mm]y|[Mm]e|us)\b",
]))


def markdown_files():
    for path in sorted(ROOT.rglob("*.md")):
        parts = path.relative_to(ROOT).parts
        if not SKIP.intersection(parts) and not any(p.endswith(".egg-info") for p in parts):
            yield path


def history_words(text: str) -> list[str]:
    """``line: word`` for every history word in ``text``."""
    return [f"{number}: {match.group()!r}: {line.strip()[:120]}"
            for number, line in enumerate(text.splitlines(), 1) for match in HISTORY.finditer(line)]


def test_markdown_has_no_history_words():
    files = list(markdown_files())
    assert any(p.name == "REPORT.md" for p in files) and any(p.parts[-3] == "results" for p in files
                                                              if len(p.parts) >= 3)
    found = [f"{path.relative_to(ROOT)}:{hit}" for path in files for hit in history_words(path.read_text())]
    assert not found, "history words in documents:\n" + "\n".join(found)


def test_the_check_catches_history_and_spares_the_math():
    assert history_words("Fixed in issue 12.") and history_words("stop 8's run") and history_words("this session")
    assert history_words("no GPU was lent") and history_words("We are 2.87 nats above") and history_words(
        "I could not check the PDFs") and history_words("our median")
    assert not history_words("z ~ N(0, I); the identity I is used as a preconditioner; ours vs peer; "
                             "the issue of scale; a usable stopping rule; mean ± std")
