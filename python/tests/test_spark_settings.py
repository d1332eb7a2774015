"""trueshot.spark carries the Config to the executors as keyword arguments
(so that a dict of them works as well), and a fixed reference as its photos,
indexed once per partition. Checked without a Spark session (the partition
tests need pyarrow, and pyspark for the result schema, but no JVM)."""

from __future__ import annotations

import pathlib
import pickle
from typing import Any

import pytest

import trueshot
from conftest import config_settings, sample_configs, make_pixels, png_bytes
from trueshot.spark import (
    _CONFIG_FIELDS,
    _config_kwargs,
    _fixed_reference,
    _make_config,
    _scan_batches,
)



def test_every_config_field_is_carried() -> None:
    # A setting added later fails here until carried.
    assert set(_CONFIG_FIELDS) == config_settings()


@pytest.mark.parametrize("config", sample_configs())
def test_config_round_trips_to_the_executors(config: trueshot.Config) -> None:
    kwargs = pickle.loads(pickle.dumps(_config_kwargs(config)))
    assert _make_config(kwargs) == config
    assert _make_config(_config_kwargs(kwargs)) == config  # a dict passes as it is


def partition_modules() -> Any:
    """pyarrow, skipping the test without it or pyspark (whose types make
    the result schema)."""
    pytest.importorskip("pyspark")
    return pytest.importorskip("pyarrow")


def test_a_fixed_reference_is_indexed_once_per_partition(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What one task runs on its partition, without Spark: two Arrow batches
    # of three rows, in chunks of two rows, and one catalogue for them all.
    pa = partition_modules()
    from conftest import claim, listing

    listing_path = tmp_path / "listing.png"
    listing_path.write_bytes(png_bytes(listing(1)))
    images = [claim(listing(1), damage=True), claim(listing(5), damage=False), None,
              png_bytes(make_pixels(48, 64, 3)), claim(listing(1), damage=False), b"junk"]
    frames = [pa.RecordBatch.from_pydict({"content": part}) for part in (images[:3], images[3:])]
    built: list[trueshot.References] = []

    def references(*args: Any, **kwargs: Any) -> trueshot.References:
        built.append(trueshot.References(*args, **kwargs))
        return built[-1]

    # As scan_dataframe hands it over: a file: URI made a local path.
    reference = _fixed_reference(listing_path.as_uri())
    assert reference == [str(listing_path)]
    monkeypatch.setattr(trueshot._trueshot, "References", references)
    out = list(_scan_batches(iter(frames), image_col=0, is_path=False,
                             reference_col=None, reference=reference,
                             config_kwargs={}, heatmaps=False, batch_size=2, threads=1))
    assert len(built) == 1 and len(built[0]) == 1
    rows = [row for batch in out for row in batch.to_pylist()]
    assert [r["content"] for r in rows] == images
    assert len(rows) == len(images)
    assert rows[0]["reference"]["derived"] is True and rows[0]["verdict"] == "edited"
    for image, row in zip(images, rows):
        if image is None:
            assert row["error"]["code"] == "missing_input"
            continue
        try:
            report = trueshot.analyze(image, reference=str(listing_path))
        except trueshot.TrueshotError as error:
            assert row["error"]["code"] == getattr(error, "code")
            continue
        assert (row["score"], row["verdict"]) == (report.score, report.verdict)
        assert row["reference"]["derived"] == report.reference["derived"]  # type: ignore[index]


def test_a_fixed_reference_unreadable_on_an_executor_is_every_row_s_error(
    tmp_path: pathlib.Path,
) -> None:
    pa = partition_modules()
    batch = pa.RecordBatch.from_pydict({"content": [png_bytes(make_pixels(48, 64, 3)), None]})
    [out] = _scan_batches(iter([batch]), image_col=0, is_path=False,
                          reference_col=None, reference=[str(tmp_path / "gone.png")],
                          config_kwargs={}, heatmaps=False, batch_size=8, threads=1)
    errors = [e["code"] for e in out.column("error").to_pylist()]
    assert errors == ["not_found", "missing_input"]
    # An empty partition reads nothing.
    assert list(_scan_batches(iter([]), image_col=0, is_path=False, reference_col=None,
                              reference=[str(tmp_path / "gone.png")], config_kwargs={},
                              heatmaps=False, batch_size=8, threads=1)) == []
