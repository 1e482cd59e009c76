"""The site's build (docs/build) without a browser: same bytes twice, every hunk tagged, math counted.

tests/test_pages.py opens the pages in chromium; these check the build itself and the
source it reads.
"""
import ast
import re
import shutil

import pytest
from markdown_it import MarkdownIt
from mdit_py_plugins.amsmath import amsmath_plugin
from mdit_py_plugins.dollarmath import dollarmath_plugin

import docs.build
from docs.build import PARENTS, VARIANTS, BuildError, Site, build, diffs, katex, source
from tests.helpers import REPO

NODE = shutil.which("node") and (katex.KATEX / "package.json").exists()
needs_katex = pytest.mark.skipif(not NODE, reason="KaTeX: apt-get install nodejs npm; npm ci --prefix docs")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    if not NODE:
        pytest.skip("KaTeX: apt-get install nodejs npm; npm ci --prefix docs")
    out = tmp_path_factory.mktemp("site")
    build(out)
    return out


def files_of(folder):
    return {path.relative_to(folder).as_posix(): path.read_bytes()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def test_two_builds_of_the_same_tree_are_byte_identical(site, tmp_path):
    build(tmp_path / "again")
    first, second = files_of(site), files_of(tmp_path / "again")
    assert first.keys() == second.keys() and len(first) > 20
    assert [name for name in first if first[name] != second[name]] == []


def math_tokens(text):
    """Formulas in Markdown, counted by a parser of the test's own (not the build's)."""
    parser = MarkdownIt("commonmark").enable("table").use(dollarmath_plugin, allow_space=False,
                                                          double_inline=True).use(amsmath_plugin)
    count = 0
    for token in parser.parse(text):
        count += token.type.startswith(("math_block", "amsmath"))
        count += sum(child.type.startswith("math") for child in token.children or [])
    return count


def formulas_on(page):
    return int(re.search(r'data-formulas="(\d+)"', page.read_text()).group(1))


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_variant_page_has_as_many_formulas_as_its_sources(site, variant):
    expected = math_tokens((REPO / "docs" / "papers" / f"{variant}.md").read_text())
    for name in ("networks.py", "losses.py", "train.py"):
        for section in source.sections((REPO / variant / name).read_text()):
            expected += math_tokens(section.prose)
    assert formulas_on(site / f"{variant}.html") == expected > 0


def test_a_documentation_page_has_as_many_formulas_as_its_markdown(site):
    pages = sorted((REPO / "docs").glob("*.md"))
    for path in pages:
        assert formulas_on(site / f"{path.stem}.html") == math_tokens(path.read_text()), path.name
    assert formulas_on(site / "index.html") == math_tokens((REPO / "README.md").read_text())


def test_no_page_gives_two_elements_the_same_id(site):
    # A link to a repeated id lands on the first; the second heading could never be linked.
    import collections
    import re

    for page in sorted(site.glob("*.html")):
        ids = collections.Counter(re.findall(r'\sid="([^"]+)"', page.read_text()))
        assert not [name for name, count in ids.items() if count > 1], page.name


def test_tags_are_read_from_the_changed_lines_and_each_side_names_its_own_paper():
    parent = "x = 1\ny = 2  # Alg. 1 line 5\nz = 3\n"
    child = "x = 1\ny = 3  # line 7, eq. (3)\nz = 3  # why: a reason\n"
    (hunk,) = diffs.hunks(parent, child, "wgan", "wgan_gp")
    assert [(tag.variant, tag.anchor) for tag in hunk.tags] == [
        ("wgan", "alg-5"), ("wgan_gp", "alg-7"), ("wgan_gp", "eq-3"), ("wgan_gp", "")]
    (untagged,) = diffs.hunks("a = 1\n", "a = 2  # a comment without a tag\n", "wgan", "wgan_gp")
    assert untagged.tags == []


def test_an_unannotated_hunk_fails_the_build(tmp_path, monkeypatch):
    for folder in ("wgan", "wgan_gp", "docs/papers", "tests"):
        shutil.copytree(REPO / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(docs.build, "REPO", tmp_path)
    monkeypatch.setattr(docs.build, "DOCS", tmp_path / "docs")
    Site().diff("wgan_gp")  # the copies as they are: every hunk tagged
    train = (REPO / "wgan_gp" / "train.py").read_text()
    assert train.count("\ndef main(") == 1
    (tmp_path / "wgan_gp" / "train.py").write_text(
        train.replace("\ndef main(", "\nTHRESHOLD = 3  # a new line far from every other change\n\n\ndef main("))
    with pytest.raises(BuildError, match="wgan_gp/train.py: the hunk near line .* has no tag"):
        Site().diff("wgan_gp")


def test_every_parent_child_pair_builds_with_every_hunk_tagged():
    site = Site()
    for child in PARENTS:
        site.diff(child)  # raises BuildError on a hunk without a tag
    assert len(site.pages) == len(PARENTS)


def test_an_equation_naming_a_missing_test_or_function_fails_the_build():
    with pytest.raises(BuildError, match="does not exist"):
        Site().render_markdown("Pinned by `tests/test_losses.py::test_nothing_by_that_name`.", "", "x")
    with pytest.raises(BuildError, match="does not exist"):
        Site().render_markdown("Computed by `wgan_gp/losses.py::no_such_function`.", "", "x")
    page = Site().render_markdown("By `wgan_gp/losses.py::gradient_penalty`.", "", "x")
    assert 'href="wgan_gp.html#losses-gradient_penalty"' in page


@needs_katex
def test_a_bad_formula_fails_the_build_and_says_which():
    formulas = katex.Formulas()
    formulas.placeholder(r"\frac{1}{2}", True, "good.md")
    formulas.placeholder(r"\frac{1}{", False, "bad.md")
    with pytest.raises(BuildError, match="bad.md: formula"):
        formulas.render()


def python_files():
    def kept(parts):  # not the built site, not Node's packages, not .venv or .git
        return parts[0] != "build" and "node_modules" not in parts and \
            not any(part.startswith(".") for part in parts)
    return sorted(path for path in REPO.rglob("*.py") if kept(path.relative_to(REPO).parts))


def docstrings_with_a_backslash_not_raw(text):
    """Line numbers of docstrings whose source has a backslash but no r prefix."""
    found = []
    for node in ast.walk(ast.parse(text)):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and body \
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            written = ast.get_source_segment(text, body[0].value)
            if "\\" in written and written[0] not in "rR":
                found.append(body[0].lineno)
    return found


def test_every_docstring_with_a_backslash_is_a_raw_string():
    # \f, \b, \n and \t in a plain string turn \frac, \beta, \nabla and \theta into control characters.
    assert docstrings_with_a_backslash_not_raw('def f():\n    """E = \\frac{1}{2}"""\n') == [2]
    assert docstrings_with_a_backslash_not_raw('def f():\n    r"""E = \\frac{1}{2}"""\n') == []
    files = python_files()
    assert REPO / "wgan_gp" / "losses.py" in files and REPO / "docs" / "build" / "markdown.py" in files
    bad = [f"{path.relative_to(REPO)}:{line}" for path in files
           for line in docstrings_with_a_backslash_not_raw(path.read_text())]
    assert not bad, f"docstrings with a backslash that are not raw strings: {bad}"


def test_the_command_refuses_an_output_it_must_not_replace_in_one_line(tmp_path, capsys):
    from docs.build.__main__ import main

    (tmp_path / "a_file").write_text("keep me")
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "notes.txt").write_text("keep me too")
    for out in (tmp_path / "a_file", tmp_path / "work"):
        assert main(["--out", str(out)]) == 2
        error = capsys.readouterr().err
        assert error.startswith("docs.build: --out") and error.count("\n") == 1
    assert (tmp_path / "a_file").read_text() == "keep me"
    assert (tmp_path / "work" / "notes.txt").read_text() == "keep me too"
