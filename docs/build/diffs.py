"""A parent -> child diff as hunks of side-by-side rows, each hunk with the tags that explain it.

Hunks are the standard library's difflib groups with 3 lines of context, the ones
`diff -u` shows. A hunk's tags come from its changed lines' comments, docstrings and help
texts: an Algorithm line or an equation ("Alg. 1 line 7", "# line 12", "eq. 16"), a paper
("arXiv:1704.00028", "Algorithm 1"), or a reason in words ("why: ..."). A tag on a removed
line refers to the parent's paper, on an added line to the child's. A hunk without a tag
fails the build: each change either implements the paper or says why it is there.
"""
import difflib
import html
import re
from dataclasses import dataclass, field
from itertools import zip_longest

from docs.build import source

WHY = re.compile(r"\b[Ww]hy: ([^\"#]+)")
PAPER = re.compile(r"arXiv:\d{4}\.\d{4,5}|\b(?:Algorithm|Alg\.) 1\b(?!,? lines? )")
WORD = re.compile(r"\w+|\s+|[^\w\s]")


@dataclass
class Tag:
    variant: str  # whose page the tag points to
    anchor: str  # alg-N, eq-N, paper or algorithm; "" for a reason in words
    text: str  # as written in the code


@dataclass
class Hunk:
    number: int
    rows: list = field(default_factory=list)  # [(kind, parent (n, html) or None, child ...)]
    tags: list = field(default_factory=list)


def tags_of(line, variant):
    """The tags written on one changed line."""
    found = [Tag(ref.variant, ref.anchor, ref.text) for ref in source.references(line, variant)]
    for match in PAPER.finditer(line):
        anchor = "paper" if match.group(0).startswith("arXiv") else "algorithm"
        found.append(Tag(variant, anchor, match.group(0)))
    found += [Tag(variant, "", reason(match.group(1))) for match in WHY.finditer(line)]
    return found


def reason(text):
    """A why: tag's words without the sentence's closing punctuation."""
    text = text.strip().rstrip(".")
    return text[:-1] if text.endswith(")") and text.count(")") > text.count("(") else text


def words(before, after):
    """(before, after) as HTML, the words that differ wrapped in <del> and <ins>."""
    old, new = WORD.findall(before), WORD.findall(after)
    left, right = [], []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for kind, i1, i2, j1, j2 in matcher.get_opcodes():
        a, b = html.escape("".join(old[i1:i2])), html.escape("".join(new[j1:j2]))
        if kind == "equal":
            left.append(a)
            right.append(b)
        else:
            left.append(f"<del>{a}</del>" if a else "")
            right.append(f"<ins>{b}</ins>" if b else "")
    return "".join(left), "".join(right)


def hunks(parent_text, child_text, parent, child):
    """The hunks of parent_text -> child_text, with rows and tags (parent, child: variants)."""
    before, after = parent_text.splitlines(), child_text.splitlines()
    shown_before, shown_after = source.highlighted_lines(parent_text), \
        source.highlighted_lines(child_text)
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    result = []
    for number, group in enumerate(matcher.get_grouped_opcodes(3), 1):
        hunk = Hunk(number)
        for kind, i1, i2, j1, j2 in group:
            if kind == "equal":
                for i, j in zip(range(i1, i2), range(j1, j2)):
                    hunk.rows.append(("equal", (i + 1, shown_before[i]), (j + 1, shown_after[j])))
                continue
            for i in range(i1, i2):
                hunk.tags += tags_of(before[i], parent)
            for j in range(j1, j2):
                hunk.tags += tags_of(after[j], child)
            for i, j in zip_longest(range(i1, i2), range(j1, j2)):
                left = right = None
                if i is not None and j is not None:
                    old, new = words(before[i], after[j])
                    left, right = (i + 1, old), (j + 1, new)
                elif i is not None:
                    left = (i + 1, f"<del>{html.escape(before[i])}</del>")
                else:
                    right = (j + 1, f"<ins>{html.escape(after[j])}</ins>")
                hunk.rows.append(("change", left, right))
        hunk.tags = list({(tag.variant, tag.anchor or tag.text): tag for tag in hunk.tags}.values())
        result.append(hunk)
    return result
