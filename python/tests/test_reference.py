"""`reference=`: a claim photo compared with the merchant's listing photo.

The listing is a textured synthetic scene built in code (as in the Rust
tests/reference.rs); claims are made from it by crop, downscale and JPEG, with
or without painted damage, so whether each is derived and edited is known by
construction.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image, ImageDraw

import trueshot

W, H = 640, 480


def _value_noise(u: npt.NDArray[np.float64], v: npt.NDArray[np.float64], scale: float,
                 rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """Smooth lattice noise in scene units, smoothstep-interpolated."""
    lattice = rng.random((int(scale) + 2, int(scale) + 2))
    x, y = u * scale, v * scale
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = x - x0, y - y0
    sx, sy = fx * fx * (3 - 2 * fx), fy * fy * (3 - 2 * fy)
    a, b = lattice[y0, x0], lattice[y0, x0 + 1]
    c, d = lattice[y0 + 1, x0], lattice[y0 + 1, x0 + 1]
    top, bottom = a + (b - a) * sx, c + (d - c) * sx
    result: npt.NDArray[np.float64] = top + (bottom - top) * sy
    return result


def listing(seed: int) -> npt.NDArray[np.uint8]:
    """A gradient background, 14 flat shapes and a fine texture: enough
    structure to register a scaled crop of it."""
    rng = np.random.default_rng(seed)
    v, u = np.mgrid[0:H, 0:W].astype(np.float64)
    u, v = (u + 0.5) / W, (v + 0.5) / H
    base = 80 + 80 * rng.random(3)
    img = np.stack([base[0] + 50 * u, base[1] + 40 * v, base[2] - 30 * u * v], axis=-1)
    for _ in range(14):
        cx, cy, r = rng.random(), rng.random(), 0.04 + 0.12 * rng.random()
        color = 40 + 180 * rng.random(3)
        if rng.random() > 0.5:
            inside = np.maximum(abs(u - cx), abs(v - cy)) < r
        else:
            inside = (u - cx) ** 2 + (v - cy) ** 2 < r * r
        img[inside] = color
    grain = (30 * (_value_noise(u, v, 60, rng) - 0.5)
             + 16 * (_value_noise(u, v, 150, rng) - 0.5)
             + 10 * np.sin((u * 90 + 4 * _value_noise(u, v, 8, rng)) * 2 * np.pi))
    img += grain[..., None] + 6 * (rng.random((H, W, 1)) - 0.5)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def claim(source: npt.NDArray[np.uint8], *, damage: bool) -> bytes:
    """Crop to 85 % at an offset, downscale to 60 %, optionally paint a dark
    crack and a brown stain, and save as JPEG quality 80."""
    crop = Image.fromarray(source).crop((30, 40, 30 + 544, 40 + 408))
    small = crop.resize((326, 245), Image.Resampling.BICUBIC)
    if damage:
        draw = ImageDraw.Draw(small)
        w, h = small.size
        points = [(0.20, 0.30), (0.28, 0.38), (0.33, 0.36), (0.40, 0.47), (0.46, 0.50)]
        draw.line([(x * w, y * h) for x, y in points], fill=(28, 24, 20), width=5)
        draw.ellipse((0.60 * w, 0.59 * h, 0.76 * w, 0.71 * h), fill=(120, 80, 30))
    out = io.BytesIO()
    small.save(out, format="JPEG", quality=80)
    return out.getvalue()


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
