r"""Markdown to HTML with markdown-it-py: math as KaTeX placeholders, anchors, rewritten links.

The prose of every page is Markdown: docs/*.md, docs/papers/*.md, README.md and the
variants' docstrings. Math is `$...$` inline and `$$...$$` displayed (mdit-py-plugins'
dollarmath), or an amsmath environment. A displayed formula with `\tag{N}` gets the anchor
`eq-N`; the ordered list under a heading that starts with "Algorithm" gets `alg-N` on its
N-th line. Headings get GitHub's anchors, so links between the .md files work in both places.
"""
import re

from markdown_it import MarkdownIt
from mdit_py_plugins.amsmath import amsmath_plugin
from mdit_py_plugins.anchors import anchors_plugin
from mdit_py_plugins.dollarmath import dollarmath_plugin

from docs.build.katex import BuildError

TAG = re.compile(r"\\tag\{(\d+)\}")


class Markdown:
    """One markdown-it parser for the build; `link(href)` rewrites each link (None: plain text)."""

    def __init__(self, formulas, link):
        self.formulas = formulas
        self.link = link
        self.parser = (MarkdownIt("commonmark", {"html": False, "typographer": False})
                       .enable("table")
                       .use(dollarmath_plugin, allow_space=False, double_inline=True)
                       .use(amsmath_plugin)
                       .use(anchors_plugin, min_level=1, max_level=4))
        def rules(name, method):  # markdown-it binds a rule to its renderer: pass ours through
            def rule(renderer, tokens, index, options, env):
                return method(tokens, index, options, env)
            self.parser.add_render_rule(name, rule)
        rules("math_inline", self._math_inline)
        rules("math_inline_double", self._math_block)
        rules("math_block", self._math_block)
        rules("math_block_label", self._math_block)
        rules("amsmath", self._amsmath)
        rules("link_open", self._link_open)
        rules("link_close", self._link_close)
        rules("image", self._image)
        self.origin = ""

    def render(self, text, origin):
        """Markdown text -> HTML with math placeholders; origin names the source in errors."""
        self.origin = origin
        tokens = self.parser.parse(text)
        number_algorithm_lines(tokens)
        return self.parser.renderer.render(tokens, self.parser.options, {})

    def render_inline(self, text, origin):
        self.origin = origin
        return self.parser.renderInline(text)

    def _math_inline(self, tokens, index, options, env):
        return self.formulas.placeholder(tokens[index].content, False, self.origin)

    def _math_block(self, tokens, index, options, env):
        tex = tokens[index].content
        tag = TAG.search(tex)
        anchor = f' id="eq-{tag.group(1)}"' if tag else ""
        return (f'<div class="equation"{anchor}>'
                f'{self.formulas.placeholder(tex, True, self.origin)}</div>\n')

    def _amsmath(self, tokens, index, options, env):
        return self._math_block(tokens, index, options, env)

    def _link_open(self, tokens, index, options, env):
        token = tokens[index]
        href = self.link(token.attrGet("href"))
        if href is None:
            token.meta["plain"] = True
            return '<span class="path">'
        token.attrSet("href", href)
        return self.parser.renderer.renderToken(tokens, index, options, env)

    def _image(self, tokens, index, options, env):
        token = tokens[index]
        src = self.link(token.attrGet("src"))
        if src is None:
            raise BuildError(f"{self.origin}: the image {token.attrGet('src')} is not in the "
                             "repository")
        token.attrSet("src", src)
        return self.parser.renderer.image(tokens, index, options, env)

    def _link_close(self, tokens, index, options, env):
        opening = next(token for token in reversed(tokens[:index]) if token.type == "link_open")
        return "</span>" if opening.meta.get("plain") else "</a>"


def number_algorithm_lines(tokens):
    """Give the items of the first ordered list after an "Algorithm ..." heading ids alg-N."""
    in_algorithm = False
    for position, token in enumerate(tokens):
        if token.type == "heading_open":
            in_algorithm = tokens[position + 1].content.startswith("Algorithm")
        elif token.type == "ordered_list_open" and in_algorithm:
            token.attrSet("id", "algorithm")
            number = int(token.attrGet("start") or 1)
            depth = 0
            for item in tokens[position + 1:]:
                if item.type == "ordered_list_open":
                    depth += 1
                elif item.type == "ordered_list_close":
                    if depth == 0:
                        break
                    depth -= 1
                elif item.type == "list_item_open" and depth == 0:
                    item.attrSet("id", f"alg-{number}")
                    number += 1
            in_algorithm = False


def algorithm_lines(parser, text):
    """{N: the Markdown of the Algorithm's line N} from a paper page's source."""
    tokens = parser.parse(text)
    number_algorithm_lines(tokens)
    lines = {}
    for position, token in enumerate(tokens):
        anchor = token.attrGet("id") if token.type == "list_item_open" else None
        if anchor and anchor.startswith("alg-"):
            inline = next(t for t in tokens[position:] if t.type == "inline")
            lines[int(anchor[4:])] = inline.content
    return lines



def equations(parser, text):
    """{N: the TeX of the displayed formula tagged N} from a paper page's source."""
    found = {}
    for token in parser.parse(text):
        displayed = token.type.startswith(("math_block", "amsmath"))
        tag = TAG.search(token.content) if displayed else None
        if tag:
            found[int(tag.group(1))] = token.content
    return found
