"""Every input kind gives the same result for the same pixels."""

from __future__ import annotations

import os
import pathlib
from typing import Any, Callable

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

import trueshot
from conftest import make_pixels, png_bytes, summary

Convert = Callable[[npt.NDArray[np.uint8], pathlib.Path], Any]


def as_str_path(pixels: npt.NDArray[np.uint8], tmp: pathlib.Path) -> Any:
    path = tmp / "image.png"
    path.write_bytes(png_bytes(pixels))
    return str(path)


def as_pathlib(pixels: npt.NDArray[np.uint8], tmp: pathlib.Path) -> Any:
    return pathlib.Path(as_str_path(pixels, tmp))


class FsPath(os.PathLike[str]):
    """A user-defined os.PathLike, not a pathlib.Path."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __fspath__(self) -> str:
        return self.path


def as_pathlike(pixels: npt.NDArray[np.uint8], tmp: pathlib.Path) -> Any:
    return FsPath(as_str_path(pixels, tmp))


def as_bytes(pixels: npt.NDArray[np.uint8], tmp: pathlib.Path) -> Any:
    return png_bytes(pixels)


def as_bytearray(pixels: npt.NDArray[np.uint8], tmp: pathlib.Path) -> Any:
    return bytearray(png_bytes(pixels))


def as_numpy(pixels: npt.NDArray[np.uint8], tmp: pathlib.Path) -> Any:
    return pixels


def as_strided_numpy(pixels: npt.NDArray[np.uint8], tmp: pathlib.Path) -> Any:
    # The same pixels through a non-contiguous view (every other column of
    # a twice-as-wide array).
    wide = np.repeat(pixels, 2, axis=1)
    view = wide[:, ::2]
    assert not view.flags.c_contiguous
    return view


def as_reversed_numpy(pixels: npt.NDArray[np.uint8], tmp: pathlib.Path) -> Any:
    # Negative strides, as `bgr[..., ::-1]` gives: columns mirrored twice.
    view = np.ascontiguousarray(pixels[:, ::-1])[:, ::-1]
    assert view.strides[1] < 0
    return view


def as_pil(pixels: npt.NDArray[np.uint8], tmp: pathlib.Path) -> Any:
    return Image.fromarray(pixels)


KINDS: list[Convert] = [
    as_str_path, as_pathlib, as_pathlike, as_bytes, as_bytearray, as_numpy, as_strided_numpy,
    as_reversed_numpy, as_pil,
]


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
def test_same_pixels_same_result(kind: Convert, channels: int, tmp_path: pathlib.Path) -> None:
    pixels = make_pixels(80, 112, channels)
    expected = trueshot.analyze(pixels)
    report = trueshot.analyze(kind(pixels, tmp_path))
    assert summary(report) == summary(expected)
    assert report.image["width"] == 112 and report.image["height"] == 80
    assert report.heatmap is not None and expected.heatmap is not None
    np.testing.assert_array_equal(report.heatmap, expected.heatmap)


def test_palette_pil_image_is_converted(tmp_path: pathlib.Path) -> None:
    # Few colours, so the palette holds them all and the conversion is exact.
    pixels = (make_pixels(40, 48, 3) // 64 * 64).astype(np.uint8)
    image = Image.fromarray(pixels).quantize(colors=64)
    assert image.mode == "P"
    np.testing.assert_array_equal(np.asarray(image.convert("RGB")), pixels)
    assert summary(trueshot.analyze(image)) == summary(trueshot.analyze(pixels))


def grey16(height: int, width: int) -> npt.NDArray[np.uint16]:
    """16-bit greyscale over the whole range: 8-bit pixels times 257 plus
    noise in the low byte."""
    rng = np.random.default_rng(3)
    high = make_pixels(height, width, 1).astype(np.uint16) * 257
    samples: npt.NDArray[np.uint16] = high + rng.integers(0, 257, size=high.shape, dtype=np.uint16)
    return samples


def test_16bit_pil_image_matches_its_png(tmp_path: pathlib.Path) -> None:
    # Pillow's convert("RGB") would clip 16-bit samples to 255; trueshot
    # brings them to 8 bits as the core does a 16-bit PNG file.
    samples = grey16(80, 112)
    path = tmp_path / "grey16.png"
    Image.fromarray(samples).save(path)
    from_file = summary(trueshot.analyze(path))
    eight_bit = ((samples.astype(np.uint32) + 128) // 257).astype(np.uint8)
    assert summary(trueshot.analyze(eight_bit)) == from_file
    with Image.open(path) as image:
        assert image.mode in ("I;16", "I")  # "I" before Pillow 10
        assert summary(trueshot.analyze(image)) == from_file
        assert summary(trueshot.analyze(image.convert("I"))) == from_file
    big_endian = Image.fromarray(samples.astype(">u2"))
    assert big_endian.mode == "I;16B"
    assert summary(trueshot.analyze(big_endian)) == from_file


def test_float_pil_image_is_read_as_0_to_1() -> None:
    pixels = make_pixels(80, 112, 1)
    floats = pixels.astype(np.float32) / 255
    # Out of range and NaN clamp as the image crate clamps float pixels.
    floats[0, :3] = [-0.5, 2.0, np.nan]
    expected = pixels.copy()
    expected[0, :3] = [0, 255, 255]
    image = Image.fromarray(floats)
    assert image.mode == "F"
    assert summary(trueshot.analyze(image)) == summary(trueshot.analyze(expected))


def test_file_inputs_report_their_format(tmp_path: pathlib.Path) -> None:
    pixels = make_pixels(32, 32, 3)
    assert trueshot.analyze(png_bytes(pixels)).image["format"] == "png"
    assert trueshot.analyze(pixels).image["format"] == "raw"


def test_jpeg_bytes_and_path_agree(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "photo.jpg"
    Image.fromarray(make_pixels(64, 80, 3)).save(path, quality=90)
    by_path = trueshot.analyze(path)
    by_bytes = trueshot.analyze(path.read_bytes())
    assert summary(by_path) == summary(by_bytes)
    assert by_path.image["format"] == "jpeg"
    assert by_path.image["jpeg_quality"] is not None


def test_an_animation_is_never_cleared(tmp_path: pathlib.Path) -> None:
    # An APNG whose default image (what is analysed) is not one of its
    # frames (what a browser shows), and a WebP and a GIF animation: held
    # for review whether given as bytes or as the PIL image Pillow opens.
    import io

    still = Image.fromarray(make_pixels(256, 256, 3))
    other = still.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    buffer = io.BytesIO()
    still.save(buffer, format="PNG")
    plain = trueshot.analyze(buffer.getvalue())
    assert plain.verdict == "authentic"
    assert "provenance.animated" not in {f.code for f in plain.findings}
    for fmt, options in [("PNG", {"default_image": True}), ("WEBP", {"lossless": True}), ("GIF", {})]:
        buffer = io.BytesIO()
        still.save(buffer, format=fmt, save_all=True, append_images=[other], **options)
        for image in (buffer.getvalue(), Image.open(io.BytesIO(buffer.getvalue()))):
            report = trueshot.analyze(image)
            assert "provenance.animated" in {f.code for f in report.findings}, fmt
            assert report.verdict != "authentic", fmt
    # A GIF whose file was closed cannot say how many frames it has: held.
    path = tmp_path / "animated.gif"
    still.save(path, save_all=True, append_images=[other])
    with Image.open(path) as opened:
        opened.load()
    closed = trueshot.analyze(opened)
    said = [f.message for f in closed.findings if f.code == "provenance.animated"]
    assert said and "not counted" in said[0]
    # An animation whose frames cannot be counted is held as not counted,
    # not given a made-up count.
    from PIL import GifImagePlugin

    class Uncountable(GifImagePlugin.GifImageFile):
        @property
        def n_frames(self) -> int:
            raise OSError("cannot count")

    with Image.open(path) as opened:
        opened.__class__ = Uncountable
        uncounted = trueshot.analyze(opened)
    said = [f.message for f in uncounted.findings if f.code == "provenance.animated"]
    assert said and "not counted" in said[0]
    # Pillow calls a JPEG with a multi-picture preview (MPO) and a two-page
    # TIFF "animated": neither animates, and neither is held for it.
    for fmt in ("MPO", "TIFF"):
        path = tmp_path / f"two.{fmt.lower()}"
        # Fresh images: Pillow's MPO writer leaves settings on the frames
        # it wrote that its TIFF writer then trips over.
        first = Image.fromarray(np.asarray(still))
        first.save(path, format=fmt, save_all=True,
                   append_images=[first.transpose(Image.Transpose.FLIP_LEFT_RIGHT)])
        with Image.open(path) as opened:
            assert getattr(opened, "is_animated"), fmt
            report = trueshot.analyze(opened)
        assert "provenance.animated" not in {f.code for f in report.findings}, fmt


def test_transparency_is_never_cleared_from_a_file_or_a_pil_image(tmp_path: pathlib.Path) -> None:
    # What a viewer sees where pixels are transparent depends on the
    # background: a hole cut into a photo is held for review, whether the
    # image comes as a file or as the PIL image Pillow opens, in any mode
    # that carries alpha or a transparent palette entry.
    import io

    photo = Image.fromarray(make_pixels(256, 256, 3))
    plain = trueshot.analyze(photo)
    assert plain.verdict == "authentic"
    holed = photo.convert("RGBA")
    holed.paste((0, 0, 0, 0), (10, 10, 60, 60))
    cases = {
        "RGBA": holed,
        "LA": holed.convert("LA"),
        "PA": holed.convert("PA"),
        "RGBa": holed.convert("RGBa"),
    }
    palette = io.BytesIO()
    holed.convert("P", palette=Image.Palette.ADAPTIVE).save(palette, format="PNG", transparency=0)
    with Image.open(io.BytesIO(palette.getvalue())) as opened:
        opened.load()
        assert opened.mode == "P" and "transparency" in opened.info
        cases["P"] = opened.copy()
    for mode, image in cases.items():
        report = trueshot.analyze(image)
        assert "fusion.transparent" in {f.code for f in report.findings}, mode
        assert report.verdict != "authentic", mode
    assert "fusion.transparent" in {f.code for f in trueshot.analyze(palette.getvalue()).findings}


def test_a_tiff_gives_its_tags_as_a_file_and_as_a_pil_image(tmp_path: pathlib.Path) -> None:
    # Pillow keeps a TIFF's tags out of Image.info: the camera and the XMP
    # of tag 700 are read from the PIL image as from the file.
    xmp = (b'<rdf:Description Iptc4xmpExt:DigitalSourceType='
           b'"http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"/>')
    path = tmp_path / "claim.tif"
    Image.fromarray(make_pixels(128, 128, 3)).save(path, tiffinfo={271: "Canon", 700: xmp})
    for image in (path, Image.open(path)):
        report = trueshot.analyze(image)
        provenance = report.to_dict()["provenance"]
        assert provenance["camera_make"] == "Canon", image
        assert provenance["digital_source_type"] == "trainedAlgorithmicMedia", image
        assert report.verdict == "ai_generated", image


def test_a_pil_image_brings_the_metadata_pillow_read() -> None:
    # An AIGC label and generator parameters in PNG text, EXIF with a camera:
    # a PIL image opened from the file gives the file's findings, its pixels
    # alone (an array) do not.
    import io

    from PIL import PngImagePlugin

    pixels = make_pixels(300, 400, 3)
    info = PngImagePlugin.PngInfo()
    info.add_text("AIGC", '{"Label":"1","ContentProducer":"001191110108MA01","ProduceID":"x1"}')
    info.add_text("parameters", "a cracked vase\nSteps: 20, Sampler: Euler a, CFG scale: 7")
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", pnginfo=info, exif=exif)
    encoded = buffer.getvalue()

    from_file = trueshot.analyze(encoded)
    opened = Image.open(io.BytesIO(encoded))
    for image in (opened, opened.convert("RGB")):
        report = trueshot.analyze(image)
        assert report.verdict == from_file.verdict == "ai_generated"
        codes = {f.code for f in report.findings}
        assert {"provenance.aigc_label", "provenance.generator_parameters"} <= codes
        assert report.to_dict()["provenance"]["camera_make"] == "Canon"
    bare = trueshot.analyze(np.asarray(opened))
    assert "provenance.aigc_label" not in {f.code for f in bare.findings}
