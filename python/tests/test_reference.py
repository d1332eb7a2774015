"""`reference=`: a claim photo compared with the merchant's listing photo.

The listing is a textured synthetic scene built in code (`conftest.listing`,
as in the Rust tests/reference.rs); claims are made from it by crop,
downscale and JPEG, with or without painted damage (`conftest.claim`), so
whether each is derived and edited is known by construction.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from PIL import Image

import trueshot
from conftest import claim, listing


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
