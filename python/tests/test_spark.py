"""trueshot.spark on a local Spark (local[2]): the rows must equal what
trueshot.analyze says about the same files. Skipped only when pyspark is not
importable; scripts/test-python installs it, so CI runs these."""

from __future__ import annotations

import io
import os
import pathlib
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("pyspark")

from pyspark.sql import SparkSession  # noqa: E402

import trueshot  # noqa: E402
from conftest import make_pixels, png_bytes  # noqa: E402
from trueshot.spark import result_schema, scan_dataframe  # noqa: E402


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkSession]:
    # The workers must run this interpreter, which has trueshot installed.
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[2]")
        .appName("trueshot-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "8")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def jpeg_bytes(seed: int, quality: int = 90) -> bytes:
    out = io.BytesIO()
    Image.fromarray(make_pixels(96, 128, 3, seed=seed)).save(out, format="JPEG", quality=quality)
    return out.getvalue()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """Good images of several kinds, a truncated JPEG and a text file named .jpg."""
    root = tmp_path_factory.mktemp("claims")
    (root / "sub").mkdir()
    for seed in range(4):
        (root / f"photo{seed}.jpg").write_bytes(jpeg_bytes(seed, 70 + 5 * seed))
    (root / "sub" / "screenshot.png").write_bytes(png_bytes(make_pixels(80, 100, 3, seed=9)))
    (root / "sub" / "broken.jpg").write_bytes(jpeg_bytes(11)[:300])
    (root / "notes.jpg").write_bytes(b"this is not an image at all\n" * 4)
    return root


def f32(value: Any) -> Any:
    """Floats as the float32 Spark stores, nulls left out (the JSON report
    leaves out empty optional fields)."""
    if isinstance(value, dict):
        return {k: f32(v) for k, v in value.items() if v is not None}
    if isinstance(value, float):
        return float(np.float32(value))
    return value


def expected(image: Any, reference: Any = None, *, heatmap: bool = True) -> dict[str, Any]:
    """What the row must hold, from trueshot.analyze."""
    try:
        report = trueshot.analyze(image, reference=reference)
    except Exception as exc:
        return {"error": getattr(exc, "code", None)}
    return {
        "score": report.score,
        "verdict": report.verdict,
        "scores": report.scores,
        "findings": [(f.code, f.score, f.message, f.message_zh) for f in report.findings],
        # `palette` is left out of the JSON when false; Spark says false.
        "reference": None
        if report.reference is None
        else f32({"palette": False, **report.reference}),
        "incomplete": report.incomplete,
        "heatmap_png": report.heatmap_png() if heatmap else None,
        "error": None,
    }


def actual(row: Any) -> dict[str, Any]:
    if row["error"] is not None:
        assert row["score"] is None and row["verdict"] is None and row["findings"] is None
        assert row["incomplete"] is None
        assert row["error"]["message"]
        return {"error": row["error"]["code"]}
    reference = row["reference"]
    if reference is not None:
        # The JSON report leaves out empty optional fields; so does expected().
        reference = f32(reference.asDict(recursive=True))
    return {
        "score": row["score"],
        "verdict": row["verdict"],
        "scores": row["scores"],
        "findings": [(f["code"], f["score"], f["message"], f["message_zh"]) for f in row["findings"]],
        "reference": reference,
        "incomplete": row["incomplete"],
        "heatmap_png": bytes(row["heatmap_png"]) if "heatmap_png" in row else None,
        "error": None,
    }


def local(uri: str) -> str:
    assert uri.startswith("file:")
    return uri[len("file:") :].replace("///", "/", 1) if uri.startswith("file:///") else uri[5:]


def test_binary_input_equals_analyze(spark: SparkSession, folder: pathlib.Path) -> None:
    images = (
        spark.read.format("binaryFile")
        .option("recursiveFileLookup", "true")
        .load(str(folder))
        .select("path", "content")
        .repartition(2)
    )
    scanned = scan_dataframe(images, content_col="content", heatmaps=True, batch_size=3)
    added = [f.name for f in result_schema(heatmaps=True).fields]
    assert scanned.columns == ["path", "content", *added]
    rows = scanned.collect()
    assert len(rows) == 7
    errors = 0
    for row in rows:
        want = expected(bytes(row["content"]))
        got = actual(row)
        assert got == want, row["path"]
        errors += got["error"] is not None
    by_name = {pathlib.Path(local(r["path"])).name: r for r in rows}
    assert by_name["broken.jpg"]["error"]["code"] == "decode"
    assert by_name["notes.jpg"]["error"]["code"] == "unsupported_format"
    assert errors == 2


def test_heatmaps_are_given_when_asked_even_with_heatmap_false(
    spark: SparkSession, folder: pathlib.Path
) -> None:
    df = spark.createDataFrame([(str(folder / "photo0.jpg"),)], "path string")
    row = scan_dataframe(df, path_col="path", heatmaps=True, config={"heatmap": False}).collect()[0]
    assert row["error"] is None
    assert bytes(row["heatmap_png"]).startswith(b"\x89PNG")


def test_a_memory_budget_changes_no_row(spark: SparkSession, folder: pathlib.Path) -> None:
    paths = sorted(str(p) for p in folder.rglob("*") if p.is_file())
    df = spark.createDataFrame([(p,) for p in paths], "file string")
    rows = scan_dataframe(df, path_col="file", batch_size=4, max_memory_mb=1).collect()
    assert [r["file"] for r in rows] == paths
    for path, row in zip(paths, rows):
        assert actual(row) == expected(path, heatmap=False), path
    with pytest.raises(ValueError, match="max_memory_mb"):
        scan_dataframe(df, path_col="file", max_memory_mb=0)


def test_a_batch_shares_one_memory_budget(
    folder: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Rows with listings of their own run side by side, one call each; with
    # a budget every call of the batch gets the same one.
    from trueshot.spark import analyze_rows

    listing_path = folder.parent / "listing-budget.png"
    claim = listing_and_claim(listing_path)
    other_listing = png_bytes(make_pixels(120, 160, 3, seed=5))
    images = [claim, jpeg_bytes(1), claim, jpeg_bytes(2)]
    references = [str(listing_path), other_listing, None, None]
    budgets: list[Any] = []
    real = trueshot.analyze_many

    def recording(*args: Any, **kwargs: Any) -> Any:
        budgets.append(kwargs.get("memory_budget"))
        return real(*args, **kwargs)

    monkeypatch.setattr(trueshot, "analyze_many", recording)
    config = trueshot.Config(heatmap=False)
    rows = analyze_rows(images, references, config=config, threads=2, heatmaps=False,
                        max_memory_mb=64)
    assert len(budgets) == 3 and budgets[0] is not None, budgets
    assert all(b is budgets[0] for b in budgets)
    assert budgets[0].megabytes == 64 and budgets[0].peak_bytes > 0
    free = analyze_rows(images, references, config=config, threads=2, heatmaps=False)
    assert rows == free


def test_path_input_equals_analyze(spark: SparkSession, folder: pathlib.Path) -> None:
    paths = sorted(str(p) for p in folder.rglob("*") if p.is_file())
    cells = [p if i % 2 else pathlib.Path(p).as_uri() for i, p in enumerate(paths)]
    cells += [str(folder / "missing.jpg"), None]  # type: ignore[list-item]
    df = spark.createDataFrame([(c,) for c in cells], "file string")
    rows = scan_dataframe(df, path_col="file", batch_size=2).collect()
    assert [r["file"] for r in rows] == cells
    for path, row in zip(paths, rows):
        assert actual(row) == expected(path, heatmap=False), path
    assert rows[-2]["error"]["code"] == "not_found"
    assert rows[-1]["error"]["code"] == "missing_input"


def test_path_names_are_taken_literally(
    spark: SparkSession, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # binaryFile writes `file:/dir/c d.jpg` without percent-encoding: a
    # name holding `%20` or `#` is that name, not a URL escape or fragment.
    root = tmp_path_factory.mktemp("names")
    names = ["c d.jpg", "c%20d.jpg", "e#f.jpg", "g?h.jpg"]
    for seed, name in enumerate(names):
        (root / name).write_bytes(jpeg_bytes(seed + 40, 70 + 8 * seed))
    files = spark.read.format("binaryFile").load(str(root)).select("path")
    rows = scan_dataframe(files, path_col="path").collect()
    assert sorted(pathlib.Path(local(r["path"])).name for r in rows) == sorted(names)
    scores = {trueshot.analyze(root / name).score for name in names}
    assert len(scores) == len(names), "the test needs images that score differently"
    for row in rows:
        assert actual(row) == expected(local(row["path"]), heatmap=False), row["path"]
    # A percent-encoded URI (Path.as_uri: `e%23f.jpg`) is decoded when no
    # file has the literal name.
    uri = spark.createDataFrame([((root / "e#f.jpg").as_uri(),)], "path string")
    [row] = scan_dataframe(uri, path_col="path").collect()
    assert actual(row) == expected(root / "e#f.jpg", heatmap=False)


def test_other_columns_pass_through_unchanged(spark: SparkSession) -> None:
    # A nullable bigint must not come back as a rounded float (as a trip
    # through pandas would make it).
    ids = [2**53 + 1, None, -(2**63), 2**63 - 1]
    data = [(i, jpeg_bytes(n)) for n, i in enumerate(ids)]
    # One partition: the null and the large ids in one Arrow batch. (Other
    # columns beside them can make pyspark convert the batch another way.)
    df = spark.createDataFrame(data, "claim_id bigint, content binary").coalesce(1)
    rows = scan_dataframe(df, batch_size=3).collect()
    assert [(r["claim_id"], bytes(r["content"])) for r in rows] == data
    assert all(r["error"] is None for r in rows)


def test_an_analysis_cut_short_is_marked_incomplete(spark: SparkSession) -> None:
    # Decoding 1.2 megapixels takes far more than 1 ms: no pixel detector
    # starts, and the verdict cannot be authentic.
    big = png_bytes(make_pixels(1000, 1200, 3))
    config = trueshot.Config(time_budget_ms=1)
    df = spark.createDataFrame([(big,)], "content binary")
    [row] = scan_dataframe(df, content_col="content", config=config).collect()
    report = trueshot.analyze(big, config=config)
    assert report.incomplete and row["incomplete"] == report.incomplete
    assert row["verdict"] == report.verdict != "authentic"


def listing_and_claim(path: pathlib.Path) -> bytes:
    """Write a listing photo to `path`; return a claim cut from it (JPEG)."""
    listing = make_pixels(120, 160, 3, seed=21)
    path.write_bytes(png_bytes(listing))
    out = io.BytesIO()
    Image.fromarray(listing).crop((10, 10, 150, 110)).save(out, format="JPEG", quality=85)
    return out.getvalue()


def test_reference_column(spark: SparkSession, folder: pathlib.Path) -> None:
    listing_path = folder.parent / "listing.png"
    claim = listing_and_claim(listing_path)
    other = jpeg_bytes(3)
    data = [
        (claim, str(listing_path)),
        (other, str(listing_path)),
        (claim, None),
        (claim, "/nonexistent/listing.png"),
        (claim, str(folder.parent / "broken_listing.jpg")),
    ]
    (folder.parent / "broken_listing.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    df = spark.createDataFrame(data, "content binary, listing string")
    rows = scan_dataframe(df, content_col="content", reference_col="listing").collect()
    for (image, reference), row in zip(data, rows):
        assert actual(row) == expected(image, reference, heatmap=False), reference
    assert rows[0]["reference"] is not None and rows[2]["reference"] is None
    assert rows[3]["error"]["code"] == "not_found"
    # A broken listing's row says it was the listing, not the claim.
    assert rows[4]["error"]["code"] == "decode"
    assert rows[4]["error"]["message"].startswith("reference '"), rows[4]["error"]


def test_arguments_are_checked_on_the_driver(spark: SparkSession) -> None:
    df = spark.createDataFrame([("a.jpg",)], "file string")
    with pytest.raises(ValueError, match="path_col or content_col"):
        scan_dataframe(df)
    with pytest.raises(ValueError, match="no column"):
        scan_dataframe(df, path_col="nope")
    with pytest.raises(ValueError, match="batch_size"):
        scan_dataframe(df, path_col="file", batch_size=0)
    with pytest.raises(trueshot.InvalidConfigError):
        scan_dataframe(df, path_col="file", config={"max_false_alarm": 2.0})
    clash = spark.createDataFrame([("a.jpg", 1.0)], "file string, score double")
    with pytest.raises(ValueError, match="already has"):
        scan_dataframe(clash, path_col="file")
    # Spark's names ignore case: `Score` would make `score` ambiguous.
    clash = spark.createDataFrame([("a.jpg", 1.0)], "file string, Score double")
    with pytest.raises(ValueError, match="already has"):
        scan_dataframe(clash, path_col="file")
    # A repeated name (a select that aliases twice) cannot be mapped at all.
    twice = spark.createDataFrame([("a.jpg", "b.jpg")], "file string, other string")
    twice = twice.select("file", twice["other"].alias("File"))
    with pytest.raises(ValueError, match="repeats the column names"):
        scan_dataframe(twice, path_col="file")
    # Paths given as content, or bytes as paths: the column's type says so.
    with pytest.raises(ValueError, match="expected binary"):
        scan_dataframe(df, content_col="file")
    binary = spark.createDataFrame([(b"\xff\xd8",)], "content binary")
    with pytest.raises(ValueError, match="expected string"):
        scan_dataframe(binary, path_col="content")


def test_fixed_reference(spark: SparkSession, folder: pathlib.Path) -> None:
    listing_path = folder.parent / "fixed-listing.png"
    images = [listing_and_claim(listing_path), jpeg_bytes(3), jpeg_bytes(11)[:300]]
    df = spark.createDataFrame([(i,) for i in images], "content binary").repartition(2)
    reference = [listing_path.as_uri(), png_bytes(make_pixels(96, 128, 3, seed=5))]
    rows = scan_dataframe(df, content_col="content", reference=reference).collect()
    local_reference = [str(listing_path), reference[1]]
    by_content = {bytes(r["content"]): r for r in rows}
    for image in images:
        assert actual(by_content[image]) == expected(image, local_reference, heatmap=False)
    assert by_content[images[0]]["reference"]["derived"] is True


def test_fixed_reference_is_checked_on_the_driver(spark: SparkSession) -> None:
    df = spark.createDataFrame([(b"\xff\xd8", "a.png")], "content binary, listing string")
    with pytest.raises(ValueError, match="reference or reference_col"):
        scan_dataframe(df, content_col="content", reference="a.png", reference_col="listing")
    with pytest.raises(FileNotFoundError):
        scan_dataframe(df, content_col="content", reference=["/nonexistent/listing.png"])
    # A listing column of another type would fail every row.
    numbers = spark.createDataFrame([(b"\xff\xd8", 5)], "content binary, listing int")
    with pytest.raises(ValueError, match="expected string, binary"):
        scan_dataframe(numbers, content_col="content", reference_col="listing")
    paths = spark.createDataFrame([(b"\xff\xd8", ["a.png"])], "content binary, listing array<string>")
    scan_dataframe(paths, content_col="content", reference_col="listing")  # accepted
    from pyspark.sql import functions as F

    nulls = numbers.withColumn("listing", F.lit(None))
    [row] = scan_dataframe(nulls, content_col="content", reference_col="listing").collect()
    assert row["error"]["code"] == "unsupported_format"  # the image, not the listing
    prebuilt = trueshot.References(make_pixels(48, 64, 3))
    with pytest.raises(TypeError, match="not a trueshot.References"):
        scan_dataframe(df, content_col="content", reference=prebuilt)
