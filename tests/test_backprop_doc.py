"""docs/backprop.md stays true to the code: every code link points at the line it names.

Each link in the derivation is written [`code`](../digitnet/FILE.py#LN): the line N of
FILE must contain `code`. When network.py changes, this test says where the code moved.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "backprop.md"
LINK = re.compile(r"\[`([^`]+)`\]\(\.\./(digitnet/[\w/]+\.py)#L(\d+)(?:-L(\d+))?\)")
EQUATIONS = [f"(B{k})" for k in range(1, 9)]


def doc_text() -> str:
    return DOC.read_text(encoding="utf-8")


def links(text: str) -> list[tuple[str, str, int, int]]:
    return [
        (code, target, int(first), int(last or first))
        for code, target, first, last in LINK.findall(text)
    ]


def source_lines(target: str) -> list[str]:
    return (ROOT / target).read_text(encoding="utf-8").splitlines()


def test_there_are_code_links():
    found = links(doc_text())
    assert len(found) >= 20
    assert {target for _, target, _, _ in found} >= {
        "digitnet/nn/network.py",
        "digitnet/nn/activations.py",
    }


@pytest.mark.parametrize(
    ("code", "target", "first", "last"), links(DOC.read_text(encoding="utf-8"))
)
def test_each_link_points_at_the_code_it_names(code, target, first, last):
    lines = source_lines(target)
    assert 1 <= first <= last <= len(lines), f"{target}#L{first} is past the end of the file"
    if any(code in line for line in lines[first - 1 : last]):
        return
    now = [i + 1 for i, line in enumerate(lines) if code in line]
    pytest.fail(
        f"docs/backprop.md links `{code}` to {target}#L{first}, which reads"
        f" {lines[first - 1].strip()!r}; the code is now at line(s) {now or 'nowhere'}"
        " — update the link (and the text if the code changed)"
    )


def _blocks(text: str) -> dict[str, str]:
    """The text from each **(Bk)** marker to the next one."""
    marks = [(m.start(), m.group(1)) for m in re.finditer(r"\*\*(\(B\d\))\*\*", text)]
    ends = [start for start, _ in marks[1:]] + [text.index("## 8.")]
    return {eq: text[start:end] for (start, eq), end in zip(marks, ends, strict=True)}


def test_every_equation_is_in_the_doc_and_links_to_its_tagged_line():
    text = doc_text()
    blocks = _blocks(text)
    assert list(blocks) == EQUATIONS  # each numbered once, in order
    network = source_lines("digitnet/nn/network.py")
    for eq, block in blocks.items():
        assert "```math" in block, f"{eq} has no displayed equation"
        tagged = [
            first
            for _, target, first, last in links(block)
            if target == "digitnet/nn/network.py"
            and any(eq in line for line in network[first - 1 : last])
        ]
        assert tagged, f"no link under {eq} points at a network.py line commented {eq}"


def test_every_equation_cited_in_network_py_is_derived():
    cited = set(re.findall(r"\(B\d\)", "\n".join(source_lines("digitnet/nn/network.py"))))
    assert cited == set(EQUATIONS)
    text = doc_text()
    for eq in EQUATIONS:
        assert f"**{eq}**" in text


def test_the_steps_are_all_there():
    text = doc_text()
    for phrase in (
        "J(\\theta)",  # the cost
        "\\ell_{\\text{CE}}",  # cross-entropy with softmax
        "\\ell_{\\text{log}}",  # the seed's logistic cost with sigmoid
        "\\frac{\\lambda}{2n}",  # L2 term
        "Why both give $a - y$",
        "\\delta^{(2)} = \\big(\\theta^{(2)}\\big)^{\\mathsf T} \\delta^{(3)} \\odot g'",
        "\\frac{\\partial J}{\\partial \\theta^{(l)}}",
        "mini-batch form",
        "\\Delta^{\\mathsf T} A",
    ):
        assert phrase in text, phrase
    assert text.count("```math") >= 15
    assert text.count("```") % 2 == 0


def test_the_diagram_is_embedded_and_exists():
    assert "](diagram.svg)" in doc_text()
    assert (DOC.parent / "diagram.svg").stat().st_size > 10_000
