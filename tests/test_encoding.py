"""Bytes → text: BOM, HTTP charset, meta charset, sniffing, Thai single-byte labels."""

from __future__ import annotations

import codecs

import pytest

from parsers.encoding import codec_name, decode, is_probably_binary

TEXT = "ผลงานที่ทำได้ ร้อยละ : 100"
PAGE = f"<html><body><p>{TEXT}</p></body></html>"
META = '<html><head><meta http-equiv="Content-Type" content="text/html; charset={}"></head>'


def test_utf8_and_cp874_without_declaration_are_sniffed() -> None:
    assert decode(PAGE.encode("utf-8")) == (PAGE, "utf-8")
    assert decode(PAGE.encode("cp874")) == (PAGE, "cp874")


@pytest.mark.parametrize(
    "label", ["tis-620", "TIS620", "iso-8859-11", "windows-874", "x-windows-874", "cp874"]
)
def test_thai_labels_decode_as_cp874(label: str) -> None:
    headers = {"Content-Type": f"text/html; charset={label}"}
    assert decode(PAGE.encode("cp874"), headers) == (PAGE, "cp874")
    page = META.format(label) + PAGE
    assert decode(page.encode("cp874")) == (page, "cp874")


def test_content_type_lookup_ignores_header_case() -> None:
    assert (
        decode(PAGE.encode("cp874"), {"content-TYPE": "text/html; charset=TIS-620"})[1] == "cp874"
    )


def test_header_beats_meta() -> None:
    page = META.format("utf-8") + PAGE
    assert decode(page.encode("cp874"), {"Content-Type": "text/html; charset=tis-620"}) == (
        page,
        "cp874",
    )


def test_bom_beats_header() -> None:
    body = codecs.BOM_UTF8 + PAGE.encode("utf-8")
    assert decode(body, {"Content-Type": "text/html; charset=tis-620"}) == (PAGE, "utf-8")


def test_wrong_declared_charset_falls_back_to_sniffing() -> None:
    assert decode(PAGE.encode("cp874"), {"Content-Type": "text/html; charset=utf-8"}) == (
        PAGE,
        "cp874",
    )
    assert decode(PAGE.encode("utf-8"), {"Content-Type": "text/html; charset=tis-620"}) == (
        PAGE,
        "utf-8",
    )


def test_unknown_label_falls_back_to_sniffing() -> None:
    page = META.format("klingon") + PAGE
    assert decode(page.encode("cp874")) == (page, "cp874")


def test_undecodable_bytes_never_raise() -> None:
    text, codec = decode(b"\xdb\xdc\xfc\xff")
    assert (codec, text) == ("cp874", "\ufffd" * 4)


def test_codec_names_are_normalised() -> None:
    assert [codec_name(label) for label in ("UTF8", "windows-874", "nonsense", None)] == [
        "utf-8",
        "cp874",
        None,
        None,
    ]


@pytest.mark.parametrize(
    ("body", "binary"),
    [
        (PAGE.encode("utf-8"), False),
        (PAGE.encode("cp874"), False),
        (codecs.BOM_UTF16_LE + PAGE.encode("utf-16-le"), False),
        (b"", False),
        (b"%PDF-1.4\n%\xe2\xe3", True),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", True),
        (b"GIF89a\x01\x00", True),
        (bytes(range(32)) * 10, True),
        (b"abc\x00def", True),
    ],
)
def test_binary_bodies_are_recognised(body: bytes, binary: bool) -> None:
    assert is_probably_binary(body) is binary


def test_a_utf8_body_cut_inside_a_character_is_still_utf8() -> None:
    body = "<p>ค่าเป้าหมาย ร้อยละ</p>".encode()[:-6]  # cut inside the last "ะ"
    assert decode(body) == ("<p>ค่าเป้าหมาย ร้อยล", "utf-8")
    header = {"Content-Type": "text/html; charset=utf-8"}
    assert decode(body, header) == ("<p>ค่าเป้าหมาย ร้อยล", "utf-8")


@pytest.mark.parametrize("control", [*range(1, 9), 11, *range(14, 27), *range(28, 32), 127])
def test_each_control_byte_counts_towards_binary(control: int) -> None:
    # a third of the head is that control byte: well over the 10 % a text page may hold
    assert is_probably_binary(b"abcd" * 100 + bytes([control]) * 200)


def test_tabs_newlines_form_feeds_and_escapes_are_text() -> None:
    assert is_probably_binary(b"a\tb\r\nc\x0cd\x1b[0m" * 200) is False
