"""`reference=`: a claim photo compared with the merchant's listing photo.

The listing is a textured synthetic scene built in code (`conftest.listing`,
as in the Rust tests/reference.rs); claims are made from it by crop,
downscale and JPEG, with or without painted damage (`conftest.claim`), so
whether each is derived and edited is known by construction.
"""

from __future__ import annotations

import pathlib
from typing import Any

import numpy as np
import pytest
from PIL import Image

import trueshot
from conftest import claim, listing, png_bytes


@pytest.fixture(scope="module")
def listing_png(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ref") / "listing.png"
    Image.fromarray(listing(1)).save(path)
    return str(path)


def test_damaged_copy_is_derived_and_edited(listing_png: str) -> None:
    report = trueshot.analyze(claim(listing(1), damage=True), reference=listing_png)
    match = report.reference
    assert match is not None
    assert match["derived"] is True, match
    assert match["index"] == 0
    assert match["path"] == listing_png
    assert match["changed_fraction"] > 0.01, match
    assert match["transform"]["scale"] == pytest.approx(0.6, abs=0.03)
    assert match["transform"]["aspect"] == pytest.approx(1.0, abs=0.01)
    assert report.verdict == "edited", report
    assert any(f.code.startswith("reference.") for f in report.findings)


def test_nested_values_are_the_floats_of_to_dict() -> None:
    # float32 values reach Python widened (0.1f32 as 0.10000000149011612),
    # in the getters and in to_dict() alike, as in the CLI's JSON records.
    report = trueshot.analyze(claim(listing(1), damage=True), reference=listing(1))
    as_dict = report.to_dict()
    assert report.reference is not None
    assert report.reference == as_dict["reference"]
    assert report.reference["similarity"] == float(np.float32(report.reference["similarity"]))
    assert [f.to_dict() for f in report.findings] == as_dict["findings"]
    assert [f.score for f in report.findings] == [f["score"] for f in as_dict["findings"]]
    assert (report.image, report.provenance) == (as_dict["image"], as_dict["provenance"])


def test_clean_copy_is_derived_not_edited() -> None:
    source = listing(1)
    report = trueshot.analyze(claim(source, damage=False), reference=source)
    assert report.reference is not None
    assert report.reference["derived"] is True, report.reference
    assert report.verdict != "edited", report


def test_unrelated_photo_is_not_derived() -> None:
    report = trueshot.analyze(claim(listing(1), damage=False), reference=listing(5))
    assert report.reference is not None
    assert report.reference["derived"] is False, report.reference


def test_a_list_of_references_finds_the_right_one() -> None:
    refs: list[Any] = [listing(5), Image.fromarray(listing(1))]
    report = trueshot.analyze(claim(listing(1), damage=True), reference=refs)
    assert report.reference is not None
    assert report.reference["derived"] is True
    assert report.reference["index"] == 1


def test_any_sequence_of_references_is_several() -> None:
    # The stubs take any Sequence; a deque or a UserList is several images
    # as a list is, not one image of an unknown kind.
    import collections
    refs: list[Any] = [listing(5), listing(1)]
    image = claim(listing(1), damage=True)
    as_list = trueshot.analyze(image, reference=refs)
    for several in (collections.deque(refs), collections.UserList(refs)):
        report = trueshot.analyze(image, reference=several)
        assert report.reference == as_list.reference
        assert len(trueshot.References(several)) == 2


def test_analyze_many_compares_every_image() -> None:
    images = [claim(listing(1), damage=True), claim(listing(1), damage=False),
              claim(listing(5), damage=False)]
    reports = trueshot.analyze_many(images, reference=listing(1))
    derived = [r.reference["derived"] if r.reference else None for r in reports]
    assert derived == [True, True, False]
    one_by_one = [trueshot.analyze(i, reference=listing(1)) for i in images]
    assert [r.score for r in reports] == [r.score for r in one_by_one]
    assert [r.verdict for r in reports] == [r.verdict for r in one_by_one]


def test_no_reference_and_empty_list_mean_none() -> None:
    image = claim(listing(1), damage=False)
    assert trueshot.analyze(image, reference=None).reference is None
    assert trueshot.analyze(image, reference=[]).reference is None


def test_bad_reference_raises_its_own_error(tmp_path: object) -> None:
    image = claim(listing(1), damage=False)
    with pytest.raises(FileNotFoundError):
        trueshot.analyze(image, reference="/nonexistent/listing.jpg")
    with pytest.raises(trueshot.TrueshotError):
        trueshot.analyze(image, reference=b"not an image at all")


def test_to_html_shows_the_listing() -> None:
    source = listing(1)
    report = trueshot.analyze(claim(source, damage=True), reference=source)
    page = report.to_html(title="claim.jpg")
    plain = trueshot.analyze(claim(source, damage=True)).to_html(title="claim.jpg")
    # The listing photo is embedded as one more JPEG data URI.
    assert page.count("data:image/jpeg") > plain.count("data:image/jpeg")


# A prebuilt catalogue: `trueshot.References`.


def same_analysis(report: trueshot.Report) -> tuple[Any, ...]:
    """Everything a report says but the wall times, which differ between runs."""
    return ({**report.to_dict(), "timings_ms": None}, report.heatmap_png())


def test_prebuilt_references_give_the_same_reports_as_a_list(listing_png: str) -> None:
    # Every kind of reference input; the claims' listing is the path.
    refs: list[Any] = [listing(5), png_bytes(listing(3)), listing_png, Image.fromarray(listing(7))]
    catalogue = trueshot.References(refs)
    images = [claim(listing(1), damage=True), claim(listing(1), damage=False),
              claim(listing(5), damage=False)]
    for image in images:
        prebuilt = trueshot.analyze(image, reference=catalogue)
        listed = trueshot.analyze(image, reference=refs)
        assert same_analysis(prebuilt) == same_analysis(listed)
        assert prebuilt.to_html() == listed.to_html()
    many = trueshot.analyze_many(images, reference=catalogue, threads=2)
    listed_many = trueshot.analyze_many(images, reference=refs, threads=2)
    assert [same_analysis(r) for r in many] == [same_analysis(r) for r in listed_many]
    match = many[0].reference
    assert match is not None and match["derived"] is True
    assert (match["index"], match["path"]) == (2, listing_png)
    assert many[2].reference is not None and many[2].reference["index"] == 0


def test_prebuilt_references_are_not_read_again(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "listing.png"
    Image.fromarray(listing(1)).save(path)
    catalogue = trueshot.References(str(path))
    path.unlink()  # an analysis that read the listing again would fail now
    report = trueshot.analyze(claim(listing(1), damage=True), reference=catalogue)
    assert report.reference is not None and report.reference["derived"] is True
    assert report.reference["path"] == str(path)
    # Only the review page needs the listing's pixels again, from the file.
    with pytest.raises(FileNotFoundError):
        report.to_html()


@pytest.mark.parametrize("prebuilt", [True, False], ids=["References", "list"])
def test_to_html_refuses_a_listing_file_that_changed(tmp_path: pathlib.Path,
                                                     prebuilt: bool) -> None:
    path = tmp_path / "listing.png"
    Image.fromarray(listing(1)).save(path)
    reference: Any = trueshot.References([str(path)]) if prebuilt else [str(path)]
    report = trueshot.analyze(claim(listing(1), damage=True), reference=reference)
    plain = trueshot.analyze(claim(listing(1), damage=True)).to_html()
    assert report.to_html().count("data:image/jpeg") > plain.count("data:image/jpeg")
    # The page would show another photo than the one the claim was compared with.
    Image.fromarray(listing(5)).save(path)
    with pytest.raises(RuntimeError, match="changed since"):
        report.to_html()


def test_references_len_and_repr(listing_png: str) -> None:
    one = trueshot.References(listing_png)
    assert len(one) == 1
    assert repr(one) == f"References(1 photo: {listing_png!r})"
    png = pathlib.Path(listing_png).read_bytes()
    many = trueshot.References([listing(1), png, listing_png, listing_png])
    assert len(many) == 4
    assert repr(many) == (
        f"References(4 photos: <640x480 pixels>, <{len(png)} bytes>, {listing_png!r}, ...)"
    )
    empty = trueshot.References([])
    assert (len(empty), repr(empty), bool(empty)) == (0, "References(0 photos)", False)


def test_empty_references_mean_none() -> None:
    image = claim(listing(1), damage=False)
    assert trueshot.analyze(image, reference=trueshot.References([])).reference is None
    [report] = trueshot.analyze_many([image], reference=trueshot.References(()))
    assert report.reference is None


def test_references_raise_at_construction(tmp_path: pathlib.Path) -> None:
    # The errors of `reference=`, raised when the catalogue is built.
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    with pytest.raises(FileNotFoundError) as missing:
        trueshot.References([listing(1), "/nonexistent/listing.jpg"])
    assert missing.value.filename == "/nonexistent/listing.jpg"
    with pytest.raises(trueshot.DecodeError) as corrupt:
        trueshot.References(str(broken))
    assert getattr(corrupt.value, "code") == "decode"
    # The message names the listing: a broken listing is not a broken claim.
    assert str(corrupt.value).startswith(f"reference '{broken}': could not decode image")
    with pytest.raises(trueshot.UnsupportedFormatError, match=r"^reference #1 \(<19 bytes>\)"):
        trueshot.References([listing(1), b"not an image at all"])
    with pytest.raises(trueshot.DecodeError, match="reference '.*broken.jpg'"):
        trueshot.analyze(listing(1), reference=[str(broken)])
    with pytest.raises(TypeError, match="References: expected a path"):
        trueshot.References([1.5])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        trueshot.References()  # type: ignore[call-arg]


def test_references_are_read_under_their_config_limits(listing_png: str) -> None:
    with pytest.raises(trueshot.ImageTooLargeError):
        trueshot.References(listing_png, config=trueshot.Config(max_pixels=100_000))
    with pytest.raises(trueshot.ImageTooLargeError):
        trueshot.References(listing(1), config=trueshot.Config(max_pixels=100_000))
    # The analysis's config does not apply to a catalogue built before it.
    catalogue = trueshot.References(listing_png)
    small = trueshot.Config(max_pixels=100_000)
    report = trueshot.analyze(claim(listing(1), damage=True), reference=catalogue, config=small)
    assert report.reference is not None and report.reference["derived"] is True
    assert "data:image/jpeg" in report.to_html()  # the listing decodes under its own limits
