"""Bytes → text for BMA pages: declared charsets first, sniffing when they are missing or wrong.

Order: byte-order mark, HTTP ``Content-Type`` charset, ``<meta>`` charset, then sniffing (valid
UTF-8 is UTF-8, anything else is Thai ``cp874``). A declared charset that cannot decode the body
is ignored, never an error. The result names the Python codec actually used, so the archive can
record it.
"""

from __future__ import annotations

import codecs
import functools
import logging
from collections.abc import Mapping

from w3lib.encoding import (
    html_body_declared_encoding,
    http_content_type_encoding,
    read_bom,
    resolve_encoding,
)

from kpi_archive.web import header as _header

logger = logging.getLogger(__name__)

THAI_CODEC = "cp874"
# w3lib (WHATWG table) already maps tis-620, tis620, iso-8859-11 and windows-874 to cp874, but
# drops the x-windows-874 label old IIS servers send, so it is renamed before w3lib reads it.
_EXTRA_LABELS = {"x-windows-874": THAI_CODEC, "x-tis-620": THAI_CODEC}
_EXTRA_LABEL_BYTES = tuple(label.encode() for label in _EXTRA_LABELS)
_META_BYTES = 4096
_SNIFF_BYTES = 8192
_BINARY_MAGIC = (b"%PDF", b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"PK\x03\x04", b"\x1f\x8b")
_CONTROL_BYTES = bytes(b for b in range(0x20) if b not in b"\t\n\r\f\x1b") + b"\x7f"
# Whether a head holds any control byte at all: one memchr per control byte (vectorised in C)
# costs about a third of a translating pass over the head, and most heads hold none.
_CONTROL_INTS = tuple(_CONTROL_BYTES)
_MAX_CONTROL_SHARE = 0.1


def codec_name(label: str | None) -> str | None:
    """The normalised Python codec for a charset label (``TIS-620`` → ``cp874``), else None."""
    if not label:
        return None
    return _codec_name(label)


# Pages of one site declare the same few labels; the lookup chain costs more than a decode
# of a short page, so its answer is remembered (a pure function of the label).
@functools.lru_cache(maxsize=256)
def _codec_name(label: str) -> str | None:
    label = label.strip().strip("\"'").lower()
    codec = _EXTRA_LABELS.get(label) or resolve_encoding(label)
    if codec is None:
        return None
    return codecs.lookup(codec).name.replace("_", "-")


def _known_labels(text: str) -> str:
    lowered = text.lower()
    for label, codec in _EXTRA_LABELS.items():
        lowered = lowered.replace(label, codec)
    return lowered


def _http_charset(content_type: str | None) -> str | None:
    if not content_type:
        return None
    return codec_name(http_content_type_encoding(_known_labels(content_type)))


def _meta_charset(body: bytes) -> str | None:
    head = body[:_META_BYTES]
    codec = codec_name(html_body_declared_encoding(head))
    # w3lib answers None at a meta naming a label it does not know, so the head is searched for
    # the two labels it lacks only then ("x-" alone is in most heads: max-width, text-align)
    if codec is None:
        lowered = head.lower()
        if any(label in lowered for label in _EXTRA_LABEL_BYTES):
            renamed = _known_labels(head.decode("latin-1")).encode("latin-1")
            codec = codec_name(html_body_declared_encoding(renamed))
    return codec


def _decode(body: bytes, codec: str) -> str:
    """``body.decode(codec)``, except that a multi-byte character cut off by the end of the body
    (a truncated download) is dropped instead of making the whole body undecodable."""
    try:
        return body.decode(codec)
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data" and exc.end == len(body):
            return body[: exc.start].decode(codec)
        raise


def _try(body: bytes, codec: str | None, source: str) -> str | None:
    if codec is None:
        return None
    try:
        return _decode(body, codec)
    except UnicodeDecodeError as exc:
        logger.debug("%s charset %s does not fit the body: %s", source, codec, exc)
        return None


def sniff(body: bytes) -> tuple[str, str]:
    """Decode undeclared bytes: valid UTF-8 as ``utf-8``, anything else as Thai ``cp874``."""
    try:
        return _decode(body, "utf-8"), "utf-8"
    except UnicodeDecodeError:
        return body.decode(THAI_CODEC, errors="replace"), THAI_CODEC


def decode(body: bytes, headers: Mapping[str, str] | None = None) -> tuple[str, str]:
    """Decode a page body to ``(text, codec)`` from its BOM, HTTP charset, meta charset or bytes."""
    bom_label, bom = read_bom(body)
    bom_codec = codec_name(bom_label)
    if bom_codec is not None and bom is not None:
        text = _try(body[len(bom) :], bom_codec, "BOM")
        if text is not None:
            return text, bom_codec
    declared = (
        ("HTTP", _http_charset(_header(headers, "content-type"))),
        ("meta", _meta_charset(body)),
    )
    for source, codec in declared:
        text = _try(body, codec, source)
        if text is not None and codec is not None:
            return text, codec
    return sniff(body)


def decode_for_parser(
    body: bytes, headers: Mapping[str, str] | None = None
) -> tuple[str | bytes, str]:
    """``decode``, except that a body that is UTF-8 from its first byte to its last comes back
    as the bytes themselves: lexbor reads UTF-8 bytes as they are, and handing it the decoded
    text would only make it encode the text again."""
    text, codec = decode(body, headers)
    if codec == "utf-8" and not body.startswith(codecs.BOM_UTF8) and _ends_whole(body):
        return body, codec
    return text, codec


def _ends_whole(body: bytes) -> bool:
    """Whether valid UTF-8 ends with a whole character (``_decode`` drops a cut-off one)."""
    for back in range(1, min(4, len(body)) + 1):
        byte = body[-back]
        if byte < 0x80:
            return back == 1
        if byte >= 0xC0:
            return back == (2 if byte < 0xE0 else 3 if byte < 0xF0 else 4)
    return False


def is_probably_binary(body: bytes) -> bool:
    """True for bodies that are not text (images, PDFs, archives): NULs or mostly controls."""
    head = body[:_SNIFF_BYTES]
    if not head:
        return False
    if head.startswith(_BINARY_MAGIC):
        return True
    bom_codec, _ = read_bom(head)
    if bom_codec is not None and bom_codec.startswith("utf-16"):
        return False
    if b"\x00" in head:
        return True
    if not any(byte in head for byte in _CONTROL_INTS):
        return False
    controls = len(head) - len(head.translate(None, _CONTROL_BYTES))
    return controls / len(head) > _MAX_CONTROL_SHARE
