"""Every error maps to its exception, with the code of the CLI's JSON records."""

from __future__ import annotations

import errno
import json
import os
import pathlib
import struct
import warnings
import zlib
from typing import Any

import numpy as np
from PIL import Image
import pytest

import trueshot
from conftest import MODEL, make_pixels, png_bytes


def test_hierarchy() -> None:
    for cls in (
        trueshot.DecodeError,
        trueshot.UnsupportedFormatError,
        trueshot.ImageTooLargeError,
        trueshot.InvalidConfigError,
        trueshot.InputChangedError,
    ):
        assert issubclass(cls, trueshot.TrueshotError)
        assert cls.__module__ == "trueshot"
    assert issubclass(trueshot.TrueshotError, Exception)
    assert issubclass(trueshot.InvalidConfigError, ValueError)
    assert issubclass(trueshot.InputChangedError, RuntimeError)


def test_missing_file(tmp_path: pathlib.Path) -> None:
    missing = tmp_path / "nope.jpg"
    with pytest.raises(FileNotFoundError) as info:
        trueshot.analyze(missing)
    assert info.value.filename == str(missing)
    assert info.value.errno == 2
    assert getattr(info.value, "code") == "not_found"


def test_directory_is_an_os_error(tmp_path: pathlib.Path) -> None:
    with pytest.raises(IsADirectoryError) as info:
        trueshot.analyze(tmp_path)
    assert getattr(info.value, "code") == "io"
    # The errno open() gives, though the path is refused before any open.
    assert info.value.errno == errno.EISDIR
    assert info.value.filename == str(tmp_path)


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX permissions")
def test_permission_denied(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "secret.png"
    path.write_bytes(png_bytes(make_pixels(8, 8, 3)))
    path.chmod(0)
    # Root reads files whatever their mode: as root (CI containers), read as
    # "nobody" for the call, then take root back (the real uid stays 0).
    as_root = os.geteuid() == 0
    if as_root:
        os.seteuid(65534)
    try:
        with pytest.raises(PermissionError):
            trueshot.analyze(path)
    finally:
        if as_root:
            os.seteuid(0)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares its size and holds no pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr
    chunk += struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk


@pytest.mark.parametrize(
    ("data", "exception", "code"),
    [
        (b"", trueshot.DecodeError, "decode"),
        (png_bytes(make_pixels(16, 16, 3))[:60], trueshot.DecodeError, "decode"),
        (b"this is not an image at all", trueshot.UnsupportedFormatError, "unsupported_format"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", trueshot.UnsupportedFormatError,
         "unsupported_format"),
        (png_header_only(60_000, 60_000), trueshot.ImageTooLargeError, "too_large"),
    ],
    ids=["empty", "truncated", "garbage", "heic", "declared-too-large"],
)
def test_bad_bytes(data: bytes, exception: type[Exception], code: str) -> None:
    with pytest.raises(exception) as info:
        trueshot.analyze(data)
    assert getattr(info.value, "code") == code


def test_heic_is_named() -> None:
    with pytest.raises(trueshot.UnsupportedFormatError, match="(?i)heic|heif"):
        trueshot.analyze(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic")


def test_too_many_pixels_in_an_array() -> None:
    with pytest.raises(trueshot.ImageTooLargeError):
        trueshot.analyze(make_pixels(20, 20, 3), config=trueshot.Config(max_pixels=399))
    trueshot.analyze(make_pixels(20, 20, 3), config=trueshot.Config(max_pixels=400))


def test_file_too_large(tmp_path: pathlib.Path) -> None:
    data = png_bytes(make_pixels(16, 16, 3))
    config = trueshot.Config(max_file_bytes=len(data) - 1)
    with pytest.raises(trueshot.ImageTooLargeError):
        trueshot.analyze(data, config=config)
    path = tmp_path / "big.png"
    path.write_bytes(data)
    with pytest.raises(trueshot.ImageTooLargeError):
        trueshot.analyze(path, config=config)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_pixels": 0},
        {"max_pixels": -1},
        {"max_pixels": 10**12},
        {"max_file_bytes": 0},
        {"max_decoded_bytes": 100},
        {"max_false_alarm": 0.0},
        {"max_false_alarm": 0.9},
        {"max_false_alarm": float("nan")},
        {"review_rate": 0.0},
        {"review_rate": 1.0},
        {"review_rate": float("nan")},
        {"threads": 5000},
        {"threads": -2},
        {"time_budget_ms": -1},
        # Beyond any integer type: still the config error, not OverflowError.
        {"max_pixels": 2**200},
        {"max_file_bytes": -(2**200)},
        {"copy_move_max_pixels": 2**64},
    ],
    ids=repr,
)
def test_invalid_config(kwargs: dict[str, Any]) -> None:
    with pytest.raises(trueshot.InvalidConfigError) as info:
        trueshot.Config(**kwargs)
    assert isinstance(info.value, ValueError)
    assert getattr(info.value, "code") == "invalid_config"


def test_config_int_of_another_type_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="max_pixels"):
        trueshot.Config(max_pixels="1000")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="threads"):
        trueshot.Config(threads=1.5)  # type: ignore[arg-type]
    # numpy integers are ints to Python's index protocol, so they pass.
    assert trueshot.Config(max_pixels=np.int64(1000)).max_pixels == 1000  # type: ignore[arg-type]


def test_model_file_is_loaded_by_config(tmp_path: pathlib.Path) -> None:
    # A model that cannot be loaded fails where it is named, as the C setter
    # does, not at the first analysis.
    not_json = tmp_path / "model.json"
    not_json.write_text("{}")
    for path in (tmp_path / "missing.json", tmp_path, not_json):
        with pytest.raises(trueshot.InvalidConfigError, match="model file") as info:
            trueshot.Config(model_path=path)
        assert getattr(info.value, "code") == "invalid_config"
    model = pathlib.Path(__file__).resolve().parents[2] / "models" / "default.json"
    config = trueshot.Config(model_path=model)
    assert config.model_path == model
    assert 0.0 <= trueshot.analyze(make_pixels(32, 32, 3), config=config).score <= 1.0


def test_a_config_reads_its_model_file_once(tmp_path: pathlib.Path) -> None:
    # A model file replaced or removed after the Config was made (a
    # redeployment) does not reach its analyses: they keep the model read.
    shipped = pathlib.Path(__file__).resolve().parents[2] / "models" / "default.json"
    model = tmp_path / "model.json"
    model.write_bytes(shipped.read_bytes())
    config = trueshot.Config(model_path=model)
    pixels = make_pixels(300, 400, 3)
    before = trueshot.analyze(pixels, config=config)
    flag = config.flag_threshold
    model.write_text("{")
    after = trueshot.analyze(pixels, config=config)
    model.unlink()
    gone = trueshot.analyze(pixels, config=config)
    assert before.score == after.score == gone.score
    assert config.flag_threshold == flag
    with pytest.raises(trueshot.InvalidConfigError):
        trueshot.Config(model_path=model)


def test_config_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        trueshot.Config(1000)  # type: ignore[call-arg]


def test_config_round_trip() -> None:
    config = trueshot.Config(max_pixels=1234, heatmap=False, max_false_alarm=0.05, threads=2)
    assert (config.max_pixels, config.heatmap, config.threads) == (1234, False, 2)
    assert config.max_false_alarm == pytest.approx(0.05)
    assert config == trueshot.Config(max_pixels=1234, heatmap=False, max_false_alarm=0.05, threads=2)
    assert "max_pixels=1234" in repr(config)
    assert config.copy_move
    assert config.copy_move_max_pixels == 2048 * 1536
    assert not trueshot.Config(copy_move=False).copy_move
    assert trueshot.Config(copy_move=True).copy_move_max_pixels == 2**64 - 1
    limited = trueshot.Config(copy_move_max_pixels=1000)
    assert "copy_move_max_pixels=1000" in repr(limited)
    assert limited == trueshot.Config(copy_move_max_pixels=1000)
    with pytest.raises(trueshot.InvalidConfigError):
        trueshot.Config(copy_move_max_pixels=-1)
    with pytest.raises(trueshot.InvalidConfigError, match="not both"):
        trueshot.Config(copy_move=True, copy_move_max_pixels=1000)


@pytest.mark.parametrize(
    ("image", "exception", "match"),
    [
        (np.zeros((8, 8, 3), dtype=np.float32), TypeError, "uint8"),
        (np.zeros((8, 8, 2), dtype=np.uint8), ValueError, "shape"),
        (np.zeros((8,), dtype=np.uint8), ValueError, "shape"),
        (np.zeros((0, 8, 3), dtype=np.uint8), ValueError, "empty"),
        (42, TypeError, "got int"),
        ([1, 2, 3], TypeError, "got list"),
    ],
    ids=["float32", "2-channels", "1-d", "empty", "int", "list"],
)
def test_bad_arguments(image: Any, exception: type[Exception], match: str) -> None:
    with pytest.raises(exception, match=match) as info:
        trueshot.analyze(image)
    assert "analyze" in str(info.value)
    assert not isinstance(info.value, trueshot.TrueshotError)


def test_bad_reference_kinds() -> None:
    pixels = make_pixels(16, 16, 3)
    with pytest.raises(TypeError, match="analyze"):
        trueshot.analyze(pixels, reference=[pixels, 3.5])  # type: ignore[list-item]
    with pytest.raises(trueshot.DecodeError):
        trueshot.analyze_many([pixels], reference=[png_bytes(pixels)[:40]])


def test_analyze_many_errors() -> None:
    good = make_pixels(16, 16, 3)
    with pytest.raises(trueshot.DecodeError):
        trueshot.analyze_many([good, b"", b"garbage"])
    results = trueshot.analyze_many([good, b"", b"garbage"], return_exceptions=True)
    assert isinstance(results[0], trueshot.Report)
    assert isinstance(results[1], trueshot.DecodeError)
    assert isinstance(results[2], trueshot.UnsupportedFormatError)
    with pytest.raises(trueshot.InvalidConfigError):
        trueshot.analyze_many([good], threads=-1)


def test_analyze_many_puts_refused_inputs_in_their_place() -> None:
    # An array over the pixel limit is refused before analysis, yet it
    # fails in its place like a file that does not decode.
    small, big = make_pixels(16, 16, 3), make_pixels(40, 40, 3)
    config = trueshot.Config(max_pixels=1000)
    not_an_image: Any = None
    results = trueshot.analyze_many([small, big, not_an_image, small], config=config,
                                    return_exceptions=True)
    assert isinstance(results[0], trueshot.Report)
    assert isinstance(results[1], trueshot.ImageTooLargeError)
    assert isinstance(results[2], TypeError)
    assert isinstance(results[3], trueshot.Report)
    # Without return_exceptions the first failing image by position raises.
    with pytest.raises(FileNotFoundError):
        trueshot.analyze_many(["/no/such/claim.jpg", big], config=config)


def test_config_defaults_are_the_rust_defaults() -> None:
    config = trueshot.Config()
    assert config.max_pixels == 100_000_000
    assert config.max_file_bytes == 256 << 20
    assert config.max_decoded_bytes == 1 << 30
    assert config.heatmap is True
    assert config.max_false_alarm == pytest.approx(0.01)
    assert config.review_rate is None
    assert config.model_path is None
    assert (config.time_budget_ms, config.threads) == (0, 0)


def test_a_review_rate_lowers_only_the_authentic_threshold(tmp_path: pathlib.Path) -> None:
    image = make_pixels(64, 48, 3)
    default = trueshot.analyze(image)
    reviewed = trueshot.analyze(image, config=trueshot.Config(review_rate=0.3))
    assert trueshot.Config(review_rate=0.3).review_rate == pytest.approx(0.3)
    assert "review_rate=0.3" in repr(trueshot.Config(review_rate=0.3))
    assert reviewed.score == default.score
    assert reviewed.to_dict()["flag_threshold"] == default.to_dict()["flag_threshold"]
    assert reviewed.to_dict()["authentic_threshold"] < default.to_dict()["authentic_threshold"]
    # The review page quotes the rate the authentic threshold was set for.
    assert "about 30% of genuine photos go to review" in reviewed.to_html()
    assert "go to review or are flagged" not in default.to_html()
    # A stricter false-alarm rate than the model's strictest point is served
    # by that point, and the page quotes the point's rate.
    strict = trueshot.analyze(image, config=trueshot.Config(max_false_alarm=0.001))
    assert "at most 0.5% false alarms" in strict.to_html()
    # A Config tells its thresholds before any analysis, as its reports do.
    for config, report in [(trueshot.Config(), default), (trueshot.Config(review_rate=0.3), reviewed)]:
        assert (config.flag_threshold, config.authentic_threshold) == (
            report.flag_threshold, report.authentic_threshold)
    # A tiny review rate would leave no band under the flag: refused when
    # the Config is built, for the built-in model too.
    with pytest.raises(trueshot.InvalidConfigError, match="no band"):
        trueshot.Config(review_rate=1e-6)
    # A model file without genuine scores (an older calibrate's) cannot
    # honour one, and says so where the Config is built.
    model = json.loads(MODEL.read_text())
    del model["genuine_scores"]
    old = tmp_path / "old-model.json"
    old.write_text(json.dumps(model))
    trueshot.Config(model_path=old)
    with pytest.raises(trueshot.InvalidConfigError, match="review_rate"):
        trueshot.Config(model_path=old, review_rate=0.1)


def test_a_model_from_another_build_is_warned_of_once(tmp_path: pathlib.Path) -> None:
    # The shipped model names no build: it loads silently.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        trueshot.Config(model_path=MODEL)
    model = json.loads(MODEL.read_text())
    model["fitted_by"] = "0.0.1+0000000000000000"
    other = tmp_path / "other-build.json"
    other.write_text(json.dumps(model))
    with pytest.warns(UserWarning, match=r"fitted by trueshot 0\.0\.1\+0+; this is") as caught:
        config = trueshot.Config(model_path=other)
    assert len(caught) == 1
    # The loaded model is used as it is, without warning again.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        trueshot.analyze(np.zeros((64, 64, 3), dtype=np.uint8), config=config)


@pytest.mark.parametrize("single", ["photo.jpg", b"\xff\xd8\xff", np.zeros((4, 4, 3), dtype=np.uint8),
                                    np.zeros((4, 4), dtype=np.uint8), np.zeros(16, dtype=np.uint8)],
                         ids=["str", "bytes", "array", "grey array", "flat array"])
def test_analyze_many_refuses_a_single_image(single: Any) -> None:
    with pytest.raises(TypeError, match="analyze_many: expected an iterable"):
        trueshot.analyze_many(single)


def test_analyze_many_takes_arrays_of_images() -> None:
    # A column of encoded files (a 1-D object array, as pandas gives) and
    # a stack of images (4-D) are batches.
    pixels = [make_pixels(24, 32, 3, seed=s) for s in range(2)]
    encoded = np.empty(2, dtype=object)
    encoded[:] = [png_bytes(p) for p in pixels]
    want = [r.score for r in trueshot.analyze_many(pixels)]
    assert [r.score for r in trueshot.analyze_many(encoded)] == want
    assert [r.score for r in trueshot.analyze_many(np.stack(pixels))] == want


def test_analyze_many_raises_an_error_of_the_iterable_itself() -> None:
    # An item that is no image fails in its place; the iterable failing
    # (or Ctrl-C while it runs) is not an item, and is raised.
    def images() -> Any:
        yield make_pixels(16, 16, 3)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        trueshot.analyze_many(images(), return_exceptions=True)

    def broken() -> Any:
        yield make_pixels(16, 16, 3)
        raise OSError("the claim store went away")

    with pytest.raises(OSError, match="went away"):
        trueshot.analyze_many(broken(), return_exceptions=True)


def test_a_pil_image_over_the_pixel_limit_is_refused_before_conversion(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    image = Image.new("P", (40, 30))
    config = trueshot.Config(max_pixels=1199)

    def no_conversion(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("converted before the pixel limit was checked")

    monkeypatch.setattr(Image.Image, "convert", no_conversion)
    with pytest.raises(trueshot.ImageTooLargeError):
        trueshot.analyze(image, config=config)
    monkeypatch.undo()
    trueshot.analyze(image, config=trueshot.Config(max_pixels=1200))
