"""Inputs built in code, with their truth known by construction."""

from __future__ import annotations

import inspect
import io
import pathlib
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image, ImageDraw

import trueshot


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


# Size of the synthetic listing photo.
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


# A valid model file: the built-in model's source.
MODEL = pathlib.Path(__file__).resolve().parents[2] / "models" / "default.json"


def config_settings() -> set[str]:
    """Config's settings: its read-only attributes but the ones derived from
    others (`copy_move` reads `copy_move_max_pixels`; the thresholds are
    what the settings resolve to)."""
    attributes = {name for name, value in inspect.getmembers(trueshot.Config)
                  if not name.startswith("_") and inspect.isgetsetdescriptor(value)}
    return attributes - {"copy_move", "flag_threshold", "authentic_threshold"}


def sample_configs() -> list[Any]:
    """Configs to carry between processes: defaults, the copy-move switch
    both ways, and every field set off its default."""
    return [
        pytest.param(trueshot.Config(), id="default"),
        pytest.param(trueshot.Config(copy_move=False), id="no-copy-move"),
        pytest.param(trueshot.Config(copy_move=True), id="copy-move-always"),
        pytest.param(
            trueshot.Config(
                max_pixels=12_345_678,
                max_file_bytes=9_999_999,
                max_decoded_bytes=1 << 28,
                heatmap=False,
                max_false_alarm=0.037,
                review_rate=0.15,
                model_path=MODEL,
                time_budget_ms=1500,
                threads=3,
                copy_move_max_pixels=777_777,
            ),
            id="every-field",
        ),
    ]
