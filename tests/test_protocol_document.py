"""The contract is docs/protocol.md: its sections exist, and every reference to it lands on one.

Code and docs cite the contract as ``docs/protocol.md §N`` or link to ``protocol.md#anchor``; a
renamed heading or a stale reference to a copy outside the repository fails here, not in review.
Anchors are computed as GitHub renders them, so the links work where the repository is read.
"""

import re
import subprocess
from pathlib import Path, PurePosixPath

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = PurePosixPath("docs/protocol.md")
SECTIONS = {1, 2, 3, 4, 5, 6}
# A relative path that climbs out of its folder ("../docs/x.md", "../../y"): it must stay inside the
# repository, which is all that someone who clones it has.
CLIMBING_PATH = re.compile(r"(?<![\w./])((?:\.\./)+[\w.-]+(?:/[\w.-]+)*)")

SECTION_REFERENCE = re.compile(r"docs/protocol\.md §(\d+)")
MARKDOWN_LINK = re.compile(r"\]\(((?:[^)\s]*/)?protocol\.md)?#([^)\s]+)\)")
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
NUMBERED_SECTION = re.compile(r"^(\d+)\. ")


def tracked_texts() -> dict[PurePosixPath, str]:
    """Every tracked text file but this one, by its path in the repository."""
    listing = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    texts = {}
    for name in listing.decode().split("\0"):
        path = PurePosixPath(name)
        if not name or (ROOT / path) == Path(__file__).resolve() or not (ROOT / path).is_file():
            continue
        try:
            texts[path] = (ROOT / path).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # images and other binary files
    return texts


def headings(markdown: str) -> list[tuple[int, str]]:
    """(level, text) of each ATX heading outside fenced code blocks."""
    found, fenced = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced and (match := HEADING.match(line)):
            found.append((len(match.group(1)), match.group(2)))
    return found


def github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives the headings: lower case, punctuation dropped, spaces to hyphens."""
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    for _, text in headings(markdown):
        plain = re.sub(r"[*_`]|\[([^\]]*)\]\([^)]*\)", r"\1", text)
        slug = re.sub(r"[^\w\- ]", "", plain.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def resolve(source: PurePosixPath, target: str) -> PurePosixPath:
    """The repository path a relative link in ``source`` points at."""
    parts: list[str] = []
    for part in (source.parent / target).parts:
        if part == "..":
            parts = parts[:-1] if parts else [".."]
        elif part != ".":
            parts.append(part)
    return PurePosixPath(*parts)


@pytest.fixture(scope="module")
def texts() -> dict[PurePosixPath, str]:
    return tracked_texts()


@pytest.fixture(scope="module")
def contract(texts) -> str:
    assert CONTRACT in texts, f"{CONTRACT} is not tracked"
    return texts[CONTRACT]


def contract_sections(contract: str) -> list[int]:
    return [
        int(match.group(1))
        for level, text in headings(contract)
        if level == 2 and (match := NUMBERED_SECTION.match(text))
    ]


def test_the_contract_has_sections_1_to_6_in_order(contract):
    assert contract_sections(contract) == sorted(SECTIONS)


def test_section_references_name_sections_that_exist(texts, contract):
    sections = set(contract_sections(contract))
    stale = [
        f"{path}:{text.count(chr(10), 0, match.start()) + 1}: {match.group(0)}"
        for path, text in texts.items()
        for match in SECTION_REFERENCE.finditer(text)
        if int(match.group(1)) not in sections
    ]
    assert not stale, "references to sections docs/protocol.md does not have:\n" + "\n".join(stale)


def test_links_to_the_contract_reach_a_heading(texts, contract):
    anchors = github_anchors(contract)
    broken = []
    for path, text in texts.items():
        if path.suffix != ".md":
            continue
        for match in MARKDOWN_LINK.finditer(text):
            target, anchor = match.groups()
            points_at = resolve(path, target) if target else path
            if target is None and path != CONTRACT:
                continue  # an anchor within another document
            line = text.count("\n", 0, match.start()) + 1
            if points_at != CONTRACT:
                broken.append(f"{path}:{line}: {target} is not {CONTRACT} from here")
            elif anchor not in anchors:
                broken.append(f"{path}:{line}: no heading for #{anchor}")
    assert not broken, "links into docs/protocol.md that lead nowhere:\n" + "\n".join(broken)


def test_nothing_refers_to_a_file_outside_the_repository(texts):
    found = [
        f"{path}:{number}: {line.strip()[:100]}"
        for path, text in texts.items()
        for number, line in enumerate(text.splitlines(), start=1)
        for climbing in CLIMBING_PATH.findall(line)
        if not (ROOT / path.parent / climbing).resolve().is_relative_to(ROOT)
    ]
    assert not found, "the repository is all a reader has; point inside it (docs/protocol.md):\n" + "\n".join(found)


def test_a_path_out_of_the_repository_is_found():
    assert CLIMBING_PATH.findall("see ../../contract/spec.md and ../README.md, not a/../b") == [
        "../../contract/spec.md",
        "../README.md",
    ]


def test_anchors_are_computed_as_github_does():
    markdown = "# The contract\n## 3. WebSocket endpoints\n### `heartbeat` and limits\n## Notes\n## Notes\n"
    assert github_anchors(markdown) == {
        "the-contract",
        "3-websocket-endpoints",
        "heartbeat-and-limits",
        "notes",
        "notes-1",
    }
