"""The markup-independent view of a page: its visible lines and its links, in document order.

Contract: the same visible text written as table cells and ``<p>``/``<div>`` blocks, or as lines
separated by ``<br>``, gives the same non-empty lines in the same order. A table cell with no
text, and a ``<br>`` ending an empty line, both show as one ``""`` line; other empty lines collapse
to one ``""`` and none lead or trail. Inline markup (``<b>``, ``<span>``, ``<font>``) never
splits a line; whitespace (``&nbsp;`` and zero-width spaces too) is collapsed per line.

The page is parsed once with lexbor and walked once in document order; a block's end is noticed
when the walk reaches the node that follows it, so no Python recursion or regex runs per node.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urldefrag, urljoin

from selectolax.lexbor import LexborHTMLParser, LexborNode

from parsers.thai import collapse_space

BLOCK_TAGS = frozenset(
    (
        *("address", "article", "aside", "blockquote", "body", "caption", "center", "dd"),
        *("details", "dir", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer"),
        *("form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "html", "legend", "li"),
        *("main", "menu", "nav", "ol", "p", "pre", "section", "summary", "table", "tbody"),
        *("tfoot", "thead", "tr", "ul"),
    )
)
CELL_TAGS = frozenset(("td", "th"))
HIDDEN_TAGS = frozenset(("head", "noscript", "script", "style", "template", "title"))
SKIPPED_SCHEMES = ("javascript:", "mailto:", "tel:", "#")

_BLOCK, _CELL, _HIDDEN, _BR, _PRE, _A = range(6)
_TEXT_NODE = 2


def _tag_kinds() -> dict[int, int]:
    factory = LexborHTMLParser("")
    kinds = {factory.create_node(tag).tag_id: _BLOCK for tag in BLOCK_TAGS}
    kinds |= {factory.create_node(tag).tag_id: _CELL for tag in CELL_TAGS}
    kinds |= {factory.create_node(tag).tag_id: _HIDDEN for tag in HIDDEN_TAGS}
    for tag, kind in (("br", _BR), ("pre", _PRE), ("a", _A)):
        kinds[factory.create_node(tag).tag_id] = kind
    return kinds


# lexbor's tag ids are fixed per build; reading them once lets the walk compare ints, not names.
_KINDS = _tag_kinds()


@dataclass
class PageText:
    """A page's visible lines and its ``(absolute url, link text)`` pairs."""

    lines: list[str] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)


def _line(pieces: list[str]) -> str:
    # collapse_space inlined: this runs once per line of the page
    text = "".join(pieces)
    pieces.clear()
    if "\u200b" in text or "\ufeff" in text:
        return collapse_space(text)
    return " ".join(text.split())


def _pre_text(content: str, pieces: list[str], lines: list[str]) -> None:
    """Inside ``<pre>`` a newline ends the line, as a ``<br>`` would."""
    first, *rest = content.split("\n")
    pieces.append(first)
    for piece in rest:
        lines.append(_line(pieces))
        pieces.append(piece)


def _link(node: LexborNode, base_url: str | None) -> tuple[str, str] | None:
    """An ``<a href>`` as (absolute URL without fragment, text); None for in-page/script links."""
    href = (node.attributes.get("href") or "").strip()
    if not href or href.lower().startswith(SKIPPED_SCHEMES):
        return None
    url = urldefrag(urljoin(base_url, href) if base_url else href).url
    return url, collapse_space(node.text())


def _following_id(node: LexborNode) -> int:
    """The mem_id of the first node after ``node``'s subtree (0 at the end of the document)."""
    current: LexborNode | None = node
    while current is not None:
        following = current.next
        if following is not None:
            return following.mem_id
        current = current.parent
    return 0


def _base_href(tree: LexborHTMLParser, base_url: str | None) -> str | None:
    # A CSS lookup in the parsed tree is cheaper than searching the whole Thai page for "<base".
    node = tree.css_first("base[href]")
    href = node.attributes.get("href") if node is not None else None
    if not href:
        return base_url
    return urljoin(base_url, href.strip()) if base_url else href.strip()


def parse_html(html: str | bytes, base_url: str | None = None) -> PageText:
    """Parse once: the page's visible lines and its links (``bytes`` must be UTF-8)."""
    tree = LexborHTMLParser(html)
    root = tree.body or tree.root
    page = PageText()
    if root is None:
        return page
    base_url = _base_href(tree, base_url)
    kinds = _KINDS
    lines, pieces = page.lines, list[str]()
    # (mem_id of the node right after an open element, its kind, len(lines) when it opened)
    opened: list[tuple[int, int, int]] = []
    # the mem_id the walk waits for: the end of a hidden element, else of the innermost open one
    watch = hidden = pre_depth = 0
    for node in root.traverse(include_text=True):
        if watch and node.mem_id == watch:
            if hidden:
                hidden = 0
            while opened and opened[-1][0] == watch:
                _, kind, lines_at_open = opened.pop()
                if pieces and (line := _line(pieces)):
                    lines.append(line)
                if kind == _CELL and len(lines) == lines_at_open:
                    lines.append("")
                elif kind == _PRE:
                    pre_depth -= 1
            watch = opened[-1][0] if opened else 0
        elif hidden:
            continue
        tag_id = node.tag_id
        if tag_id == _TEXT_NODE:
            content = node.text_content
            # whitespace before a line's first text is dropped anyway; skipping it saves a flush
            if not content or not (pieces or not content.isspace()):
                continue
            if pre_depth and "\n" in content:
                _pre_text(content, pieces, lines)
            else:
                pieces.append(content)
            continue
        kind = kinds.get(tag_id, -1)
        if kind == _BR:
            lines.append(_line(pieces))
        elif kind == _A:
            if (link := _link(node, base_url)) is not None:
                page.links.append(link)
        elif kind == _HIDDEN:
            hidden = watch = _following_id(node) or -1
        elif kind >= 0:
            if pieces and (line := _line(pieces)):
                lines.append(line)
            pre_depth += kind == _PRE
            watch = _following_id(node)
            opened.append((watch, kind, len(lines)))
    for _, kind, lines_at_open in reversed(opened):
        if pieces and (line := _line(pieces)):
            lines.append(line)
        if kind == _CELL and len(lines) == lines_at_open:
            lines.append("")
    if pieces and (line := _line(pieces)):
        lines.append(line)
    page.lines = _tidy(lines)
    return page


def _tidy(lines: list[str]) -> list[str]:
    """Collapse runs of empty lines to one and drop leading and trailing empties."""
    tidy: list[str] = []
    for line in lines:
        if line or (tidy and tidy[-1]):
            tidy.append(line)
    if tidy and not tidy[-1]:
        tidy.pop()
    return tidy


def visible_lines(html: str | bytes) -> list[str]:
    """The page's visible text as lines in document order (see the module contract)."""
    return parse_html(html).lines


def links(html: str | bytes, base_url: str | None = None) -> list[tuple[str, str]]:
    """Every ``<a href>`` as ``(absolute url, link text)``, skipping javascript:, mailto: and #."""
    return parse_html(html, base_url).links
