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


def as_pil(pixels: npt.NDArray[np.uint8], tmp: pathlib.Path) -> Any:
    return Image.fromarray(pixels)


KINDS: list[Convert] = [
    as_str_path, as_pathlib, as_pathlike, as_bytes, as_bytearray, as_numpy, as_strided_numpy, as_pil,
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
