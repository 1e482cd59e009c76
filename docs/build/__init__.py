"""The site: a page per variant, per parent -> child diff and per docs/*.md, built from the source.

    python -m docs.build --out build/site

Pages open from file:// and load nothing from the network: KaTeX renders the math at
build time (docs/build/katex.py) and its CSS and fonts are copied into the site. The same
tree builds the same bytes: nothing depends on the time, the machine or the order of a
directory listing. A hunk without a tag, a bad formula or a test that an equation names
but that does not exist stops the build with one line (BuildError).
"""
import os
import re
import shutil
from pathlib import Path

from pygments.formatters import HtmlFormatter
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from docs.build import diffs, katex, markdown, source
from docs.build.katex import BuildError

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
VARIANTS = ("dcgan", "wgan", "wgan_gp", "sngan", "wgan_r1")
PARENTS = {"wgan": "dcgan", "wgan_gp": "wgan", "sngan": "wgan", "wgan_r1": "wgan_gp"}
FILES = ("networks.py", "losses.py", "train.py")
# `tests/test_x.py::test_name` (the test that pins an equation) and `VARIANT/FILE.py::function`
# (the code that computes it), written in code spans in the Markdown; the build links them.
PINNED = re.compile(r"<code>((?:tests|dcgan|wgan|wgan_gp|sngan|wgan_r1)/\w+\.py)::(\w+)</code>")


def diff_page(child):
    return f"{PARENTS[child]}-{child}.html"


def source_page(path):
    """The site's page for a repository file shown whole: src/PATH.html."""
    return f"src/{path}.html"


class Site:
    """Every page of one build, rendered with math placeholders until `write`."""

    def __init__(self):
        self.formulas = katex.Formulas()
        self.pages = {}  # site path -> (title, html with placeholders)
        self.sources = set()  # repository paths shown whole under src/
        self.assets = {}  # site path -> repository file to copy
        self.templates = Environment(loader=FileSystemLoader(Path(__file__).with_name("templates")),
                                     autoescape=True, undefined=StrictUndefined,
                                     keep_trailing_newline=True)
        self.current = ""  # the repository folder of the Markdown being rendered
        self.markdown = markdown.Markdown(self.formulas, self.link)

    # Links and paths -------------------------------------------------------------------------

    def link(self, href):
        """A Markdown link's target on the site, or None to show it as plain text."""
        if not href or href.startswith(("http://", "https://", "mailto:", "#")):
            return href
        path, _, fragment = href.partition("#")
        target = (REPO / self.current / path).resolve()
        try:
            relative = target.relative_to(REPO).as_posix()
        except ValueError:
            return None
        anchor = f"#{fragment}" if fragment else ""
        if relative == "README.md":
            return "index.html" + anchor
        if relative.startswith("docs/papers/") and relative.endswith(".md"):
            return f"{Path(relative).stem}.html{anchor}"
        if relative.startswith("docs/") and relative.endswith(".md") and "/" not in relative[5:]:
            return f"{Path(relative).stem}.html{anchor}"
        if relative.rstrip("/") in VARIANTS:
            return f"{relative.rstrip('/')}.html{anchor}"
        parts = relative.split("/")
        if len(parts) == 2 and parts[0] in VARIANTS and parts[1] == "README.md":
            return f"{parts[0]}.html#notes"
        if len(parts) == 2 and parts[0] in VARIANTS and parts[1] in FILES:
            return f"{parts[0]}.html#{Path(parts[1]).stem}"
        if relative.endswith(".py") and target.is_file():
            self.sources.add(relative)
            return source_page(relative) + anchor
        if relative.endswith((".png", ".svg", ".jpg")) and target.is_file():
            self.assets[relative] = target
            return relative
        return None

    def render_markdown(self, text, folder, origin):
        self.current = folder
        html_text = self.markdown.render(text, origin)
        return Markup(PINNED.sub(self.pinned_test, html_text))

    def pinned_test(self, match):
        """`tests/test_x.py::test_name` or `wgan_gp/losses.py::gradient_penalty` in prose: a link
        to that test's line on its source page, or to that function's section on the variant's
        page; a name that the file does not define stops the build."""
        path, name = match.groups()
        lines = (REPO / path).read_text().splitlines() if (REPO / path).is_file() else []
        found = [n for n, line in enumerate(lines, 1) if re.match(rf"\s*def {name}\(", line)]
        if not found:
            raise BuildError(f"the docs name {path}::{name}, which does not exist")
        folder, file_name = path.split("/")
        if folder in VARIANTS:
            href = f"{folder}.html#{Path(file_name).stem}-{name}"
        else:
            self.sources.add(path)
            href = f"{source_page(path)}#L{found[0]}"
        return f'<a class="test" href="{href}">{match.group(0)}</a>'

    # Pages ----------------------------------------------------------------------------------

    def add(self, path, template, title, **values):
        text = self.templates.get_template(template).render(
            title=title, root="../" * path.count("/"), variants=VARIANTS, parents=PARENTS,
            diff_page=diff_page, page=path, **values)
        self.pages[path] = text

    def variant(self, name):
        paper_md = (DOCS / "papers" / f"{name}.md").read_text()
        paper = self.render_markdown(paper_md, "docs/papers", f"docs/papers/{name}.md")
        readme = REPO / name / "README.md"
        notes = self.render_markdown(readme.read_text(), name, f"{name}/README.md") \
            if readme.exists() else ""
        files = []
        for file_name in FILES:
            origin = f"{name}/{file_name}"
            text = (REPO / origin).read_text()
            cut = []
            for section in source.sections(text):
                self.current = name
                prose = self.markdown.render(section.prose, origin) if section.prose else ""
                prose = source.link_references(prose, name, self.page_of)
                lines = [(n, Markup(source.link_references(line, name, self.page_of)))
                         for n, line in section.lines]
                cut.append({"name": section.name, "prose": Markup(prose), "lines": lines,
                            "hidden": section.hidden})
            files.append({"name": file_name, "stem": Path(file_name).stem, "sections": cut,
                          "path": origin, "source": source_page(origin)})
            self.sources.add(origin)
        children = [child for child, parent in PARENTS.items() if parent == name]
        self.add(f"{name}.html", "variant.html", name, name=name, paper=paper, notes=notes,
                 files=files, children=children)

    def page_of(self, variant):
        return f"{variant}.html"

    def diff(self, child):
        parent = PARENTS[child]
        papers = {v: (DOCS / "papers" / f"{v}.md").read_text() for v in (parent, child)}
        algorithms = {v: (markdown.algorithm_lines(self.markdown.parser, text),
                          markdown.equations(self.markdown.parser, text))
                      for v, text in papers.items()}
        files = []
        for file_name in FILES:
            found = diffs.hunks((REPO / parent / file_name).read_text(),
                                (REPO / child / file_name).read_text(), parent, child)
            hunks = []
            for hunk in found:
                if not hunk.tags:
                    first = next(row for row in hunk.rows if row[0] == "change")
                    raise BuildError(
                        f"{child}/{file_name}: the hunk near line {first[2] and first[2][0]} of "
                        f"diff -u {parent}/{file_name} {child}/{file_name} has no tag: name its "
                        "Algorithm line or equation in a comment, or say `why: ...`")
                notes = [self.annotation(tag, algorithms) for tag in hunk.tags]
                rows = [(kind, left and (left[0], Markup(left[1])), right and
                         (right[0], Markup(right[1]))) for kind, left, right in hunk.rows]
                hunks.append({"number": hunk.number, "notes": notes, "rows": rows})
            files.append({"name": file_name, "stem": Path(file_name).stem, "hunks": hunks})
        self.add(diff_page(child), "diff.html", f"{parent} → {child}", parent=parent,
                 child=child, files=files)

    def annotation(self, tag, algorithms):
        """One tag as the annotation cell shows it: a link, and the Algorithm line's text."""
        origin = f"the tag {tag.text!r}"
        if not tag.anchor:
            return {"href": None, "label": "why", "text": Markup(
                self.markdown.render_inline(tag.text, origin))}
        href = f"{tag.variant}.html#{tag.anchor}"
        text = ""
        lines, equations = algorithms[tag.variant]
        if tag.anchor.startswith("alg-"):
            line = lines.get(int(tag.anchor[4:]))
            if line is None:
                raise BuildError(f"{origin} names a line that docs/papers/{tag.variant}.md's "
                                 "Algorithm does not have")
            text = PINNED.sub(self.pinned_test, self.markdown.render_inline(line, origin))
        elif tag.anchor.startswith("eq-"):
            tex = equations.get(int(tag.anchor[3:]))
            if tex is None:
                raise BuildError(f"{origin} names an equation that docs/papers/{tag.variant}.md "
                                 "does not have")
            # Without its \tag: the link above names the number, and the cell is narrow.
            text = self.formulas.placeholder(markdown.TAG.sub("", tex), True, origin)
        return {"href": href, "label": f"{tag.variant}: {tag.text}", "text": Markup(text)}

    def document(self, path):
        """docs/NAME.md as NAME.html."""
        text = path.read_text()
        title = next((line[2:].strip() for line in text.splitlines() if line.startswith("# ")),
                     path.stem)
        body = self.render_markdown(text, "docs", f"docs/{path.name}")
        self.add(f"{path.stem}.html", "page.html", title, body=body)

    def index(self):
        body = self.render_markdown((REPO / "README.md").read_text(), "", "README.md")
        documents = [(path.stem, self.pages[f"{path.stem}.html"]) for path in self.documents]
        figures = []  # every figure of docs/figures, with the page that shows it
        for path in sorted((DOCS / "figures").glob("*.png")):
            site_path = f"docs/figures/{path.name}"
            self.assets[site_path] = path
            shown_on = [page for page, text in sorted(self.pages.items())
                        if f'src="{site_path[5:]}"' in text or f'src="{site_path}"' in text]
            figures.append({"src": site_path, "name": path.stem, "page": (shown_on or [None])[0]})
        self.add("index.html", "index.html", "GAN reference: the pages", body=body,
                 documents=[(stem, title_of(text)) for stem, text in documents], figures=figures)

    def source_file(self, path):
        text = (REPO / path).read_text()
        lines = [(n, Markup(line)) for n, line in enumerate(source.highlighted_lines(text), 1)]
        self.add(source_page(path), "source.html", path, file_path=path, lines=lines)

    # The whole build ------------------------------------------------------------------------

    def write(self, out):
        """Every file of the site into the new folder out."""
        out.mkdir(parents=True)
        katex.copy_assets(out)
        style = Path(__file__).with_name("style.css").read_text()
        (out / "style.css").write_text(style + HtmlFormatter(style="default").get_style_defs(
            [".code", ".whole", ".diff"]) + "\n")
        for site_path, repository_file in sorted(self.assets.items()):
            (out / site_path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(repository_file, out / site_path)
        for site_path, text in sorted(self.pages.items()):
            text = text.replace("@@FORMULAS@@", str(katex.count(text)))
            (out / site_path).parent.mkdir(parents=True, exist_ok=True)
            (out / site_path).write_text(self.formulas.fill(text))

    def build(self, out):
        check_output_folder(out)
        self.documents = sorted(path for path in DOCS.glob("*.md"))
        for name in VARIANTS:
            self.variant(name)
        for child in PARENTS:
            self.diff(child)
        for path in self.documents:
            self.document(path)
        self.index()
        for path in sorted(self.sources):
            self.source_file(path)
        self.formulas.render()
        # Written whole into a hidden sibling, then renamed over out: an interrupted build
        # leaves the previous site as it was.
        partial = out.parent / f".{out.name}.partial-{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        try:
            self.write(partial)
            if out.exists():
                shutil.rmtree(out)
            partial.rename(out)
        finally:
            shutil.rmtree(partial, ignore_errors=True)
        return sorted(self.pages)


def check_output_folder(out):
    """--out must be a folder this build may replace: absent, empty, or an earlier site."""
    if out.exists() and not out.is_dir():
        raise BuildError(f"--out {out}: a file is there, not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / "index.html").is_file() \
            and not (out / "katex").is_dir():
        raise BuildError(f"--out {out}: a folder that is not a site built by docs.build; "
                         "give a new or empty folder")
    if out.resolve() in (REPO, *REPO.parents) or out.resolve() == DOCS:
        raise BuildError(f"--out {out}: the repository itself; give a folder such as build/site")


def title_of(page_text):
    match = re.search(r"<title>(.*?)</title>", page_text)
    return Markup(match.group(1)) if match else ""


def build(out):
    """Build the site into out (emptied first); returns the pages' site paths."""
    return Site().build(Path(out))
