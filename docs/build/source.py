"""A Python file cut into sections of prose beside code, and its lines highlighted by Pygments.

A section starts at each top-level function or class (with the comment block just above
it). Its prose is that comment block and the docstring; its code is the rest, each line
keeping its number in the file. The module docstring is the first section's prose.
References in comments and docstrings ("Alg. 1 line 7", "lines 4, 6", "WGAN-GP Alg. 1
line 7", "eq. 16") become links to the Algorithm's lines and the equations on the pages.
"""
import ast
import inspect
import re
from dataclasses import dataclass, field

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

# Which variant's page holds a reference's Algorithm or equation: the file's own, unless named.
PAPER_NAMES = {"WGAN-GP": "wgan_gp", "WGAN": "wgan"}
REFERENCE = re.compile(
    r"(?:(?P<paper>WGAN-GP|WGAN)(?:'s)? )?"
    r"(?:(?:Alg\.|Algorithm) ?\d,? )?"
    r"(?:(?P<lines>lines?) (?P<numbers>\d+(?:(?:, ?| and | ?- ?| to )\d+)*)"
    r"|[Ee]q\. ?(?:\((?P<bracketed>\d+)\)|(?P<equation>\d+)))")


@dataclass
class Reference:
    variant: str  # whose page
    anchor: str  # alg-N or eq-N
    text: str  # as written


def references(text, variant):
    """The Algorithm lines and equations that a comment or docstring names, in order."""
    found = []
    for match in REFERENCE.finditer(text):
        owner = PAPER_NAMES.get(match.group("paper"), variant)
        equation = match.group("equation") or match.group("bracketed")
        if equation:
            found.append(Reference(owner, f"eq-{equation}", match.group(0)))
        else:
            first = re.match(r"\d+", match.group("numbers")).group(0)
            found.append(Reference(owner, f"alg-{first}", match.group(0)))
    return found


def link_references(html_text, variant, page_of):
    """html_text with each reference wrapped in a link; page_of(variant) -> that page's href."""
    def link(match):
        (reference,) = references(match.group(0), variant)
        return f'<a class="ref" href="{page_of(reference.variant)}#{reference.anchor}">' \
               f'{match.group(0)}</a>'
    # Only outside tags: split the HTML into tags and text and link inside the text.
    parts = re.split(r"(<[^>]+>)", html_text)
    return "".join(part if part.startswith("<") else REFERENCE.sub(link, part) for part in parts)


def highlighted_lines(text):
    """The file's lines as HTML, one string per line (Pygments closes its spans per line)."""
    lines = highlight(text, PythonLexer(), HtmlFormatter(nowrap=True)).split("\n")
    return lines[:len(text.splitlines())]


@dataclass
class Section:
    prose: str  # Markdown
    lines: list = field(default_factory=list)  # [(line number, html)]
    name: str = ""  # the function or class, or "" for the module's top
    hidden: list = field(default_factory=list)  # line numbers shown as prose, not as code


def docstring_lines(node):
    """The 1-based line range [first, last] of node's docstring, or None."""
    body = getattr(node, "body", None)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        return body[0].lineno, body[0].end_lineno
    return None


DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def section_nodes(tree):
    """Top-level functions and classes, and the functions defined directly inside them."""
    for node in tree.body:
        if isinstance(node, DEFINITIONS):
            yield node
            yield from (inner for inner in node.body if isinstance(inner, DEFINITIONS))


def docstring_markdown(docstring):
    """A docstring as Markdown: an indented block after a line ending in ':' stays as typed."""
    lines = inspect.cleandoc(docstring).splitlines()
    result, block = [], False
    for position, line in enumerate(lines):
        indented = line.startswith("  ") and line.strip()
        if indented and not block and position and lines[position - 1].rstrip().endswith(":"):
            result += ["", "```text"]
            block = True
        elif block and not indented:
            result += ["```", ""]
            block = False
        result.append(line[2:] if block else line)
    return "\n".join(result + (["```"] if block else []))


def sections(text):
    """The file's sections, in order; every line of the file is in exactly one section."""
    tree = ast.parse(text)
    raw = text.splitlines()
    html_lines = highlighted_lines(text)
    starts = []  # (first line of the section, node)
    for node in section_nodes(tree):
        first = min([node.lineno] + [d.lineno for d in node.decorator_list])
        while first > 1 and raw[first - 2].lstrip().startswith("#"):
            first -= 1  # the comment block just above belongs to the section
        starts.append((first, node))
    bounds = [(1, tree)] + starts
    result = []
    for position, (first, node) in enumerate(bounds):
        last = bounds[position + 1][0] - 1 if position + 1 < len(bounds) else len(raw)
        hidden = set()
        prose = []
        comments = []
        number = first
        while node is not tree and raw[number - 1].lstrip().startswith("#"):
            comments.append(raw[number - 1].lstrip()[1:].strip())
            hidden.add(number)
            number += 1
        if comments:
            prose.append(" ".join(comments))
        span = docstring_lines(node)
        if span:
            hidden.update(range(span[0], span[1] + 1))
            prose.insert(0, docstring_markdown(ast.get_docstring(node, clean=False)))
        shown = [(n, html_lines[n - 1]) for n in range(first, last + 1) if n not in hidden]
        while shown and not raw[shown[-1][0] - 1].strip():
            shown.pop()
        while shown and not raw[shown[0][0] - 1].strip():
            shown.pop(0)
        name = "" if node is tree else node.name
        kept = {n for n, _ in shown}
        hidden = [n for n in range(first, last + 1) if n not in kept]  # anchors in the prose cell
        result.append(Section("\n\n".join(prose), shown, name, hidden))
    return result
