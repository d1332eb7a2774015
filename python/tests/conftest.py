"""Inputs built in code, with their truth known by construction."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image


def make_pixels(height: int, width: int, channels: int, seed: int = 7) -> npt.NDArray[np.uint8]:
    """A smooth gradient plus seeded noise: photo-like enough for every detector."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = (x * 200 // max(width - 1, 1) + y * 50 // max(height - 1, 1)).astype(np.int32)
    planes = [base + 10 * c + rng.integers(-12, 13, size=(height, width)) for c in range(channels)]
    pixels = np.clip(np.stack(planes, axis=-1), 0, 255).astype(np.uint8)
    if channels == 4:
        pixels[..., 3] = 255  # opaque: every face drops alpha the same way then
    result: npt.NDArray[np.uint8] = pixels[..., 0] if channels == 1 else pixels
    return result


def png_bytes(pixels: npt.NDArray[np.uint8]) -> bytes:
    """Lossless PNG of `pixels`, with no metadata chunks."""
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def rgb() -> npt.NDArray[np.uint8]:
    return make_pixels(96, 128, 3)


def summary(report: Any) -> tuple[Any, ...]:
    """What must agree between two analyses of the same pixels."""
    return (
        report.score,
        report.verdict,
        report.scores,
        [(f.code, f.score) for f in report.findings],
        report.features,
    )
