"""Math rendered at build time with KaTeX, every formula of a build in one Node process.

Why Node and npm: KaTeX is a JavaScript library; docs/package-lock.json pins it (0.16.22),
`npm ci --prefix docs` installs it from the npm registry, and Debian's `nodejs` runs it.
An embedded engine from PyPI would need KaTeX's JavaScript copied in by hand; Node keeps
the pinned package whole, with its CSS and fonts, which the site copies so that no page
loads anything from the network.

Pages are rendered with placeholders (`Formulas.placeholder`), then `Formulas.render`
runs KaTeX once over all of them and `Formulas.fill` puts the HTML+MathML in.
"""
import json
import re
import shutil
import subprocess
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1]
KATEX = DOCS / "node_modules" / "katex"
SCRIPT = Path(__file__).with_name("render_math.js")
PLACEHOLDER = re.compile(r"@@MATH(\d+)@@")


class BuildError(Exception):
    """A problem in the sources or the tools: the build stops with this one line."""


class Formulas:
    """Every formula of the build: (tex, display mode, where it came from), deduplicated."""

    def __init__(self):
        self.items = []  # [(tex, display, origin)]
        self.index = {}  # (tex, display) -> position in items
        self.html = None

    def placeholder(self, tex, display, origin):
        key = (tex.strip(), display)
        if key not in self.index:
            self.index[key] = len(self.items)
            self.items.append((key[0], display, origin))
        return f"@@MATH{self.index[key]}@@"

    def render(self):
        """KaTeX over every formula, in one `node` process; BuildError names a bad formula."""
        node = shutil.which("node")
        if node is None:
            raise BuildError("node not found: install Debian's nodejs and npm (see .ci/run)")
        if not (KATEX / "package.json").exists():
            raise BuildError("KaTeX is not installed: run `npm ci --prefix docs`")
        request = json.dumps([{"tex": tex, "display": display} for tex, display, _ in self.items])
        result = subprocess.run([node, str(SCRIPT)], input=request, capture_output=True,
                                text=True, check=False)
        if result.returncode != 0:
            raise BuildError(f"KaTeX failed: {result.stderr.strip().splitlines()[-1:]}")
        rendered = json.loads(result.stdout)
        for (tex, _, origin), item in zip(self.items, rendered):
            if "error" in item:
                raise BuildError(f"{origin}: formula {tex!r}: {item['error']}")
        self.html = [item["html"] for item in rendered]

    def fill(self, text):
        """The page's text with each placeholder replaced by its rendered formula."""
        return PLACEHOLDER.sub(lambda match: self.html[int(match.group(1))], text)


def count(text):
    """Formulas in a page still holding placeholders: what the browser must find rendered."""
    return len(PLACEHOLDER.findall(text))


def copy_assets(out):
    """KaTeX's CSS and fonts into out/katex/, so that the pages load them from file:."""
    target = out / "katex"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(KATEX / "dist" / "katex.min.css", target / "katex.min.css")
    shutil.copytree(KATEX / "dist" / "fonts", target / "fonts", dirs_exist_ok=True)
