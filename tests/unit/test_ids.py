"""Validation rules for names and paths (agora/ids.py)."""

from __future__ import annotations

import pytest

from agora.errors import BadRequest
from agora.ids import check_name, check_path


@pytest.mark.parametrize("name", ["bert-base", "a", "A.b_c-1", "x" * 96])
def test_good_names(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize("name", ["", "..", "a..b", "a/b", "a b", "-a", "a--b", "x.git", "x" * 97, "é"])
def test_bad_names(name: str) -> None:
    with pytest.raises(BadRequest):
        check_name(name)


@pytest.mark.parametrize("path", ["a.txt", "dir/sub/file.bin", ".gitattributes", "a b/c d.txt"])
def test_good_paths(path: str) -> None:
    assert check_path(path) == path


@pytest.mark.parametrize(
    "path", ["", "/abs", "../x", "a/../b", "a//b", ".git/config", "x/.git/HEAD", "a\x00b", "a\\b", "./a"]
)
def test_bad_paths(path: str) -> None:
    with pytest.raises(BadRequest):
        check_path(path)


def test_path_component_and_surrogate_rules() -> None:
    assert check_path("n" * 255) == "n" * 255
    for bad in ("n" * 256, "d/" + "é" * 128, "a\ud800b"):
        with pytest.raises(BadRequest):
            check_path(bad)


def test_unicode_twins() -> None:
    import unicodedata

    from agora.ids import check_unicode_twins

    nfc, nfd = unicodedata.normalize("NFC", "café"), unicodedata.normalize("NFD", "café")
    check_unicode_twins([nfc + "/b"], [nfc + "/a", "x"])
    for new, old in (([nfd], [nfc]), ([nfd + "/x"], [nfc + "/y"]), ([nfc, nfd], [])):
        with pytest.raises(BadRequest):
            check_unicode_twins(new, old)


@pytest.mark.parametrize(
    "name",
    [
        "HEAD",
        "a..b",
        "a b",
        "x.lock",
        ".h",
        "a~1",
        "a:b",
        "-x",
        "x/",
        "a//b",
        "@",
        "x@{1}",
        "q?",
        "b[1]",
        "c\\d",
        "refs/heads/x",
        "",
    ],
)
def test_bad_ref_names(name: str) -> None:
    from agora.ids import check_ref_name

    with pytest.raises(BadRequest):
        check_ref_name(name)
