"""``hactl fs -setfattr -v VALUE`` parsing and ``-getfattr -e`` printing, as HDFS's XAttrCodec."""

from __future__ import annotations

import pytest

from client.cli.fsxattr import decode_value, encode_value, json_value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('"hello world"', b"hello world"),
        ('""', b""),
        ('"0x00"', b"0x00"),  # quotes win over a prefix
        ("0x00ff", b"\x00\xff"),
        ("0X0A", b"\n"),
        ("0x", b""),
        ("0sAP8=", b"\x00\xff"),
        ("0SYw==", b"c"),
        ("bare", b"bare"),
        ('"', b'"'),
        ("x", b"x"),
        ("", b""),
        ("ünï", "ünï".encode()),
    ],
)
def test_decode_value(text: str, value: bytes) -> None:
    assert decode_value(text) == value


@pytest.mark.parametrize("text", ["0xz", "0x0", "0s!!", "0sA"])
def test_bad_hex_or_base64_is_an_error(text: str) -> None:
    with pytest.raises(ValueError, match="bad"):
        decode_value(text)


def test_encode_value() -> None:
    assert encode_value(b"v 1", "text") == '"v 1"'
    assert encode_value(b"\x00\xff", "hex") == "0x00ff"
    assert encode_value(b"\x00\xff", "base64") == "0sAP8="
    assert encode_value(b"\xff", "text") == '"\ufffd"'
    assert json_value(b"v", "text") == "v" and json_value(b"v", "hex") == "0x76"
    for value in (b"", b"\x00\x01binary\xff", "ü".encode()):
        assert decode_value(encode_value(value, "hex")) == value
        assert decode_value(encode_value(value, "base64")) == value
