"""Markdown with LaTeX math -> safe HTML that KaTeX auto-render finishes in the browser view.

Pure Python (no Qt) so it is tested without a display. Math is cut out before python-markdown runs, because Markdown
would otherwise eat ``_`` and ``*`` inside formulas, and is put back with one delimiter style only (``\\(``/``\\[``),
so a literal dollar sign in prose is never mistaken for math by the browser.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import markdown

MARKDOWN_EXTENSIONS = ("tables", "fenced_code", "sane_lists")

# One alternation, scanned left to right: code is kept as is, an escaped dollar is a literal, the rest is math.
_TOKENS = re.compile(
    r"(?P<fence>^```.*?^```[ \t]*$)"
    r"|(?P<code>`[^`\n]+`)"
    r"|(?P<dollar>\\\$)"
    r"|\$\$(?P<ddisplay>.+?)\$\$"
    r"|\\\[(?P<bdisplay>.+?)\\\]"
    r"|\\\((?P<binline>.+?)\\\)"
    r"|\$(?P<dinline>(?=\S)[^$\n]*?[^\s\\])\$(?!\d)",  # pandoc's rule: "$5 and $10" is not math
    re.DOTALL | re.MULTILINE,
)
_PLACEHOLDER = "GLMOCRMATH{}X"
_PLACEHOLDER_RE = re.compile(r"GLMOCRMATH(\d+)X")


def split_math(source: str) -> tuple[str, list[tuple[str, str]]]:
    """Replace math with placeholders; returns the text and [(kind, tex)] with kind "inline"/"display"/"dollar"."""
    pieces: list[tuple[str, str]] = []

    def cut(match: re.Match) -> str:
        kind = match.lastgroup
        if kind in ("fence", "code"):
            return match.group(0)
        if kind == "dollar":
            pieces.append(("dollar", "$"))
        else:
            pieces.append(("display" if kind.endswith("display") else "inline", match.group(kind).strip()))
        return _PLACEHOLDER.format(len(pieces) - 1)

    return _TOKENS.sub(cut, source), pieces


def math_html(kind: str, tex: str) -> str:
    """The element auto-render turns into KaTeX; the TeX stays readable if KaTeX is missing."""
    if kind == "dollar":
        return "$"
    if kind == "display":
        return f'<span class="math display">\\[{html.escape(tex, quote=False)}\\]</span>'
    return f'<span class="math inline">\\({html.escape(tex, quote=False)}\\)</span>'


def markdown_to_html(source: str) -> str:
    """Render OCR Markdown (which may hold HTML tables and math) to sanitized HTML with math elements."""
    protected, pieces = split_math(source)
    body = markdown.markdown(protected, extensions=list(MARKDOWN_EXTENSIONS), output_format="html")
    body = sanitize_html(body)
    return _PLACEHOLDER_RE.sub(lambda m: math_html(*pieces[int(m.group(1))]), body)


def markdown_to_plain(source: str) -> str:
    """Readable plain text: Markdown markup removed, math kept as its ``$…$``/``$$…$$`` source."""
    protected, pieces = split_math(source)
    body = markdown.markdown(protected, extensions=list(MARKDOWN_EXTENSIONS), output_format="html")
    text = _TextOnly.text_of(body)
    return _PLACEHOLDER_RE.sub(lambda m: _math_source(*pieces[int(m.group(1))]), text).strip()


def _math_source(kind: str, tex: str) -> str:
    return {"dollar": "$", "display": f"$${tex}$$"}.get(kind, f"${tex}$")


class _TextOnly(HTMLParser):
    """Text of an HTML fragment with line breaks where blocks and rows end, tabs between table cells."""

    LINE_ENDS = {"div", "br", "tr", "li"}
    PARAGRAPH_ENDS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "table", "ul", "ol"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    @classmethod
    def text_of(cls, fragment: str) -> str:
        parser = cls()
        parser.feed(fragment)
        parser.close()
        return re.sub(r"\n{3,}", "\n\n", "".join(parser.parts))

    def _line_has_text(self) -> bool:
        return bool(self.parts) and not self.parts[-1].endswith("\n")

    def handle_starttag(self, tag, attrs):
        if tag in ("td", "th") and self._line_has_text():
            self.parts.append("\t")
        elif tag == "li":
            self.parts.append("- ")
        elif tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in self.PARAGRAPH_ENDS:
            self.parts.append("\n\n")
        elif tag in self.LINE_ENDS:
            self.parts.append("\n")

    def handle_data(self, data):
        if data.strip() or "\n" not in data:  # newlines between tags are markup layout, not text
            self.parts.append(data)


# --- sanitizing -------------------------------------------------------------------------------------------------
# The HTML comes from a model reading a user's page, and the view runs JavaScript with access to local files, so only
# the tags a document needs survive; everything else becomes text.
ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "em", "strong", "b", "i", "u", "s", "del", "sub", "sup",
    "code", "pre", "blockquote", "ul", "ol", "li", "table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption",
    "colgroup", "col", "span", "div", "a", "dl", "dt", "dd",
}
VOID_TAGS = {"br", "hr", "col"}
ALLOWED_ATTRS = {"colspan", "rowspan", "align", "class", "href", "start", "title"}
DROP_WITH_CONTENT = {"script", "style", "iframe", "object", "embed", "template", "noscript", "svg", "math"}
SAFE_LINK = re.compile(r"^(https?:|mailto:|#)", re.IGNORECASE)


class _Sanitizer(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.dropping = 0  # depth inside a tag whose content is dropped

    def handle_starttag(self, tag, attrs):
        if tag in DROP_WITH_CONTENT:
            self.dropping += 1
        elif not self.dropping and tag in ALLOWED_TAGS:
            self.out.append(f"<{tag}{self._attrs(attrs)}>")

    def handle_startendtag(self, tag, attrs):
        if not self.dropping and tag in ALLOWED_TAGS:
            self.out.append(f"<{tag}{self._attrs(attrs)}>")

    def handle_endtag(self, tag):
        if tag in DROP_WITH_CONTENT:
            self.dropping = max(0, self.dropping - 1)
        elif not self.dropping and tag in ALLOWED_TAGS and tag not in VOID_TAGS:
            self.out.append(f"</{tag}>")

    def handle_data(self, data):
        if not self.dropping:
            self.out.append(html.escape(data, quote=False))

    @staticmethod
    def _attrs(attrs) -> str:
        kept = []
        for name, value in attrs:
            value = value or ""
            if name not in ALLOWED_ATTRS or (name == "href" and not SAFE_LINK.match(value.strip())):
                continue
            kept.append(f' {name}="{html.escape(value)}"')
        return "".join(kept)


def sanitize_html(fragment: str) -> str:
    parser = _Sanitizer()
    parser.feed(fragment)
    parser.close()
    return "".join(parser.out)
