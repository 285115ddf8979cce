"""The markup-independent view of a page: its lines as a reader sees them, and its links.

Contract: the same visible text written as table cells, ``<p>``/``<div>`` blocks, list items,
definition lists or lines separated by ``<br>`` gives the same lines in the same order. Hidden
content (``<script>``, ``<style>``, ``<template>``, ``<noscript>``, comments, the ``hidden``
attribute, an inline ``display:none``) never counts. Inline markup (``<b>``, ``<font>``,
``<wbr>``) never splits a line; whitespace (``&nbsp;`` and zero-width spaces too) is collapsed.

Two views come from one walk. ``visible`` is what a browser's ``innerText`` shows (cells of a
table row on one line, tab-separated). ``lines`` is what the parsers read: each element a line of
its own (a table cell with no text is one ``""`` line), except that a small group a reader sees as
one "label : value" line is joined into one line: cells ``label | : | value``, ``label : | value``
or ``label | : value``, a ``<th>`` label and the ``<td>`` beside it, a ``<dt>`` and its ``<dd>``,
and a card whose two or three child blocks read that way. Runs of empty lines collapse to one.

The page is parsed once with lexbor and walked once in document order; a block's end is noticed
when the walk reaches the node that follows it, and each node's follower is found once (cached up
the parent chain), so the work is linear in the page's size whatever its nesting depth.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import islice
from urllib.parse import urldefrag, urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from kpi_archive.errors import ParseError
from parsers.thai import collapse_space

BLOCK_TAGS = frozenset(
    (
        *("address", "article", "aside", "blockquote", "body", "caption", "center"),
        *("details", "dir", "div", "dl", "fieldset", "figcaption", "figure", "footer"),
        *("form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "html", "legend", "li"),
        *("main", "menu", "nav", "ol", "p", "pre", "section", "summary", "table", "tbody"),
        *("tfoot", "thead", "tr", "ul"),
    )
)
CELL_TAGS = frozenset(("td", "th"))
HIDDEN_TAGS = frozenset(("head", "noscript", "script", "style", "template", "title"))
SKIPPED_SCHEMES = ("javascript:", "mailto:", "tel:", "#")
# A page with more nodes than this is not one of ours (the largest real page has ~3,000).
MAX_NODES = 200_000

_BLOCK, _CELL, _HIDDEN, _BR, _PRE, _A, _TH, _DT, _DD = range(9)
_TEXT_NODE = 2
# One path segment (no scheme, slash, dot segment, parameters or fragment) and perhaps a
# non-empty query: the href urljoin resolves against the base's directory, unchanged.
_ONE_SEGMENT = re.compile(
    r"(?!\.\.?(?:\?|$))[\w.~%+!$&'()*,=@-]+(?:\?[^#\t\n\r\x00-\x1f]+)?"
).fullmatch
# An absolute http(s) URL that urljoin returns unchanged whatever the base: lower-case scheme,
# an ASCII host (urlsplit rejects some others), no parameters, empty query or fragment (which
# urlunparse would drop or keep), no control characters (which urlsplit removes).
_URL_HOST = r"https?://[\w.~%!$&'()*+,=:@-]+"
_ABSOLUTE = re.compile(
    _URL_HOST + r"(?:/[^?#;\s\x00-\x1f]*)?(?:\?[^#\s\x00-\x1f]+)?", re.ASCII
).fullmatch
# A base URL whose directory is its origin plus its path up to the last slash.
_PLAIN_BASE = re.compile(
    f"({_URL_HOST})" + r"(/[^?#;\s\x00-\x1f]*)?(?:\?[^#\s\x00-\x1f]*)?(?:#[^\s\x00-\x1f]*)?",
    re.ASCII,
).fullmatch
_DISPLAY_NONE = re.compile(r"display\s*:\s*none", re.IGNORECASE)
# A value that is itself a "label : value" line is never glued onto a label before it.
_OWN_LABEL_LINE = re.compile(r"^(?!ไตรมาสที่).+ : ")


def _tag_kinds() -> dict[int, int]:
    factory = LexborHTMLParser("")
    kinds = {factory.create_node(tag).tag_id: _BLOCK for tag in BLOCK_TAGS}
    kinds |= {factory.create_node(tag).tag_id: _HIDDEN for tag in HIDDEN_TAGS}
    for tag, kind in (("br", _BR), ("pre", _PRE), ("a", _A), ("td", _CELL), ("th", _TH)):
        kinds[factory.create_node(tag).tag_id] = kind
    for tag, kind in (("dt", _DT), ("dd", _DD)):
        kinds[factory.create_node(tag).tag_id] = kind
    return kinds


# lexbor's tag ids are fixed per build; reading them once lets the walk compare ints, not names.
_KINDS = _tag_kinds()
_BASE_TAG = LexborHTMLParser("").create_node("base").tag_id
_CELL_KINDS = frozenset((_CELL, _TH))


@dataclass
class PageText:
    """A page's lines (see the module contract), its ``(absolute url, link text)`` pairs, and the
    work the walk did (nodes plus parent steps); ``visible`` is computed when asked for."""

    lines: list[str] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)
    work: int = 0
    raw: list[str] = field(default_factory=list, repr=False)
    owners: list[tuple[int, int, int]] = field(default_factory=list, repr=False)

    @property
    def visible(self) -> list[str]:
        """Non-empty lines as a browser's ``innerText`` shows them (cells of a row tab-joined)."""
        return _inner_text(self.raw, self.owners)


def _line(pieces: list[str]) -> str:
    # collapse_space inlined: this runs once per line of the page
    text = pieces[0] if len(pieces) == 1 else "".join(pieces)
    pieces.clear()
    # every whitespace but the ASCII space is unprintable: once its ends are trimmed, a
    # printable text without a double space is already collapsed, and most lines are such
    # (split and join would copy them word by word)
    trimmed = text.strip()
    if trimmed.isprintable() and "  " not in trimmed:
        return trimmed
    if "\u200b" in text or "\ufeff" in text:
        return collapse_space(text)
    return " ".join(text.split())


class _Resolver:
    """``urljoin(base, href)`` for one page's links, with shortcuts for the commonest hrefs.

    An href that is one path segment and perhaps a query (``mykpi.php?pid=1``) resolves to the
    base's directory plus the href, whatever the base: that directory is read off a plain
    base (``_PLAIN_BASE``, no dot or empty segment) or else taken once per page from
    ``urljoin`` itself (joining a one-letter probe). An absolute http(s) href that ``urljoin``
    would give back unchanged (``_ABSOLUTE``) is kept as it is; every other href goes to
    ``urljoin``, or without a base is kept once ``urlsplit`` can read it (a ``ValueError``
    otherwise, as ``urljoin`` raises with a base)."""

    def __init__(self, base_url: str | None) -> None:
        self.base_url = base_url or ""
        self.directory: str | None = None
        self.probed = not base_url

    def _probe(self) -> None:
        self.probed = True
        plain = _PLAIN_BASE(self.base_url)
        if plain is not None:
            origin, path = plain.group(1), plain.group(2) or "/"
            if "//" not in path and "/." not in path:
                self.directory = origin + path[: path.rfind("/") + 1]
                return
        try:
            probe = urljoin(self.base_url, "x")
        except ValueError:
            probe = ""
        if probe.endswith("x"):
            self.directory = probe[:-1]

    def __call__(self, href: str) -> str:
        if _ONE_SEGMENT(href):
            if not self.probed:
                self._probe()
            if self.directory is not None:
                return self.directory + href
        elif _ABSOLUTE(href):
            return href
        if not self.base_url:
            urlsplit(href)  # urljoin does not read an href without a base: ValueError here too
            return href
        return urljoin(self.base_url, href)


def _link(node: LexborNode, resolve: _Resolver) -> tuple[str, str] | None:
    """An ``<a href>`` as (absolute URL without fragment, text); None for in-page/script links
    and for hrefs no URL can be made of (``http://[object Object]`` seen in the wild)."""
    href = (node.attrs.get("href") or "").strip()
    if not href or href.lower().startswith(SKIPPED_SCHEMES):
        return None
    try:
        url = resolve(href)
        # urldefrag returns a URL without "#" unchanged; skipping it saves a parse per link
        if "#" in url:
            url = urldefrag(url).url
    except ValueError:
        return None
    return url, collapse_space(node.text())


def _special(tree: LexborHTMLParser) -> tuple[LexborNode | None, set[int]]:
    """The first ``<base href>`` and the ids of the elements hidden by their attributes, from
    one selector match in C instead of reading every element's attributes in Python."""
    base: LexborNode | None = None
    hidden: set[int] = set()
    for node in tree.css("base[href], [hidden], [style]"):
        if base is None and node.tag_id == _BASE_TAG and "href" in node.attrs:
            base = node
        if _is_hidden(node):
            hidden.add(node.mem_id)
    return base, hidden


def _base_href(base: LexborNode | None, base_url: str | None) -> str | None:
    href = base.attrs.get("href") if base is not None else None
    if not href:
        return base_url
    try:
        return urljoin(base_url, href.strip()) if base_url else href.strip()
    except ValueError:
        return base_url


def _is_hidden(node: LexborNode) -> bool:
    """Whether an element is hidden by its ``hidden`` attribute or an inline ``display:none``."""
    attributes = node.attributes
    if not attributes:
        return False
    if "hidden" in attributes:
        return True
    style = attributes.get("style")
    return bool(style) and _DISPLAY_NONE.search(style or "") is not None


class _Walk:
    """The end-of-subtree cache of the single pass over a parsed page."""

    def __init__(self) -> None:
        self.following: dict[int, int] = {}
        self.work = 0

    def following_id(self, node: LexborNode) -> int:
        """The mem_id of the first node after ``node``'s subtree (0 at the end of the document).

        Each answer is cached for the whole parent chain, so deep nesting costs linear, not
        quadratic, work (10,000 nested tables: 68 s before); caching from the first step is
        also the fastest on ordinary pages (measured against a short uncached walk first)."""
        chain: list[int] = []
        current: LexborNode | None = node
        found = 0
        while current is not None:
            self.work += 1
            mem_id = current.mem_id
            cached = self.following.get(mem_id)
            if cached is not None:
                found = cached
                break
            chain.append(mem_id)
            following = current.next
            if following is not None:
                found = following.mem_id
                break
            current = current.parent
        for mem_id in chain:
            self.following[mem_id] = found
        return found


def parse_html(html: str | bytes, base_url: str | None = None) -> PageText:
    """Parse once: the page's lines, visible lines and links (``bytes`` must be UTF-8)."""
    tree = LexborHTMLParser(html)
    root = tree.body or tree.root
    page = PageText()
    if root is None:
        return page
    base, hidden_ids = _special(tree)
    page_url, base_url = base_url, _base_href(base, base_url)
    resolve = _Resolver(base_url)
    kinds = _KINDS
    walk = _Walk()
    following_id = walk.following_id
    pieces: list[str] = []
    top = (0, 0, _BLOCK)
    # (mem_id of the node right after an open element, owner tuple, len(lines) when it opened)
    opened: list[tuple[int, tuple[int, int, int], int]] = []
    owner = top
    # the mem_id the walk waits for: the end of a hidden element, else of the innermost open one
    watch = hidden = pre_depth = 0
    lines: list[str] = []
    # per line: (owner element id, id of the block around it, owner kind)
    owners: list[tuple[int, int, int]] = []
    links = page.links
    # islice stops the walk one node past the limit; the nodes are listed in C, not counted
    # one by one in the loop
    walked = list(islice(root.traverse(include_text=True), MAX_NODES + 1))
    if len(walked) > MAX_NODES:
        raise ParseError(
            f"more than {MAX_NODES} nodes: not a page of ours", url=page_url, missing="size"
        )
    for node in walked:
        if watch and node.mem_id == watch:
            if hidden:
                hidden = 0
            while opened and opened[-1][0] == watch:
                _, closing, lines_at_open = opened.pop()
                if pieces and (line := _line(pieces)):
                    lines.append(line)
                    owners.append(closing)
                if closing[2] in _CELL_KINDS and len(lines) == lines_at_open:
                    lines.append("")
                    owners.append(closing)
                elif closing[2] == _PRE:
                    pre_depth -= 1
            if opened:
                watch, owner, _ = opened[-1]
            else:
                watch, owner = 0, top
        elif hidden:
            continue
        tag_id = node.tag_id
        if tag_id == _TEXT_NODE:
            content = node.text_content
            # whitespace before a line's first text is dropped anyway; skipping it saves a flush
            if not content or not (pieces or not content.isspace()):
                continue
            if pre_depth and "\n" in content:
                first, *rest = content.split("\n")
                pieces.append(first)
                for piece in rest:
                    lines.append(_line(pieces))
                    owners.append(owner)
                    pieces.append(piece)
            else:
                pieces.append(content)
            continue
        kind = kinds.get(tag_id, -1)
        if kind == _BR:
            lines.append(_line(pieces) if pieces else "")
            owners.append(owner)
        elif kind == _HIDDEN or (hidden_ids and node.mem_id in hidden_ids):
            hidden = watch = following_id(node) or -1
        elif kind < 0:
            continue  # inline and empty elements (b, font, img …) change nothing
        elif kind == _A:
            if (link := _link(node, resolve)) is not None:
                links.append(link)
        else:
            if pieces and (line := _line(pieces)):
                lines.append(line)
                owners.append(owner)
            pre_depth += kind == _PRE
            following = node.next
            if following is None:
                watch = following_id(node)
            else:
                watch = following.mem_id
                walk.work += 1
            # the group is the nearest enclosing block: siblings as a reader sees them
            owner = (node.mem_id, opened[-1][1][0] if opened else -1, kind)
            opened.append((watch, owner, len(lines)))
    for _, closing, lines_at_open in reversed(opened):
        if pieces and (line := _line(pieces)):
            lines.append(line)
            owners.append(closing)
        if closing[2] in _CELL_KINDS and len(lines) == lines_at_open:
            lines.append("")
            owners.append(closing)
    if pieces and (line := _line(pieces)):
        lines.append(line)
        owners.append(top)
    page.work = walk.work + len(walked)
    page.lines = _tidy(_join_groups(lines, owners))
    page.raw, page.owners = lines, owners
    return page


def _pair(a: str, b: str, label_kinds: bool) -> str | None:
    """Two pieces a reader sees as one "label : value" line, joined; None when they are not.
    ``label_kinds``: the markup says label and value (``<th>``+``<td>``, ``<dt>``+``<dd>``)."""
    if label_kinds and a:
        if not b:
            return a if a.endswith(":") else f"{a} :"
        return f"{a} {b}" if a.endswith(":") or b.startswith(":") else f"{a} : {b}"
    if b == ":":
        return f"{a} :" if a and not a.endswith(":") else None
    if b.startswith(": ") and a and not a.endswith(":"):
        return f"{a} {b}"
    if a.endswith(":") and len(a) > 1 and b and not b.endswith(":"):
        return None if _OWN_LABEL_LINE.match(b) else f"{a} {b}"
    return None


def _joined(texts: list[str], kinds: list[int]) -> str | None:
    """A row or card of two or three one-line members, read as one line, or None."""
    if len(texts) == 3:
        a, colon, b = texts
        if colon == ":" and a and not a.endswith(":"):
            return f"{a} : {b}" if b else f"{a} :"
        return None
    return _pair(texts[0], texts[1], kinds[0] == _TH and kinds[1] == _CELL)


def _join_groups(lines: list[str], owners: list[tuple[int, int, int]]) -> list[str]:
    """Join each small group a reader sees as one "label : value" line (module contract)."""
    joined: list[str] = []
    i, n = 0, len(lines)
    while i < n:
        group = owners[i][1]
        j = i + 1
        while j < n and owners[j][1] == group:
            j += 1
        first_kind = owners[i][2]
        # only pairs, triples and definition lists can join: skip the member check otherwise
        if group == 0 or j - i < 2 or (j - i > 3 and first_kind not in (_DT, _DD)):
            joined.extend(lines[i:j])
            i = j
            continue
        members = [owners[k][0] for k in range(i, j)]
        if len(set(members)) != len(members):  # a member with several lines: not a label row
            joined.extend(lines[i:j])
        elif first_kind in (_DT, _DD):
            joined.extend(_join_definitions(lines[i:j], [owners[k][2] for k in range(i, j)]))
        elif j - i in (2, 3):
            text = _joined(lines[i:j], [owners[k][2] for k in range(i, j)])
            joined.extend(lines[i:j] if text is None else [text])
        else:
            joined.extend(lines[i:j])
        i = j
    return joined


def _join_definitions(texts: list[str], kinds: list[int]) -> list[str]:
    """``<dt>`` + ``<dd>`` pairs of a definition list, each as one line."""
    out: list[str] = []
    k = 0
    while k < len(texts):
        if kinds[k] == _DT and k + 1 < len(texts) and kinds[k + 1] == _DD:
            text = _pair(texts[k], texts[k + 1], label_kinds=True)
            if text is not None:
                out.append(text)
                k += 2
                continue
        out.append(texts[k])
        k += 1
    return out


def _inner_text(lines: list[str], owners: list[tuple[int, int, int]]) -> list[str]:
    """Non-empty lines as ``innerText`` shows them: a table row's cells joined by tabs."""
    out: list[str] = []
    previous: tuple[int, int, int] | None = None
    for line, owner in zip(lines, owners, strict=True):
        if (
            out
            and previous is not None
            and owner[2] in _CELL_KINDS
            and previous[2] in _CELL_KINDS
            and owner[1] == previous[1]
            and owner[0] != previous[0]
        ):
            out[-1] = f"{out[-1]}\t{line}"
        else:
            out.append(line)
        previous = owner
    return [line for line in out if line.strip()]


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
    """The page's lines in document order, as the parsers read them (see the module contract)."""
    return parse_html(html).lines


def links(html: str | bytes, base_url: str | None = None) -> list[tuple[str, str]]:
    """Every ``<a href>`` as ``(absolute url, link text)``, skipping javascript:, mailto: and #."""
    return parse_html(html, base_url).links
