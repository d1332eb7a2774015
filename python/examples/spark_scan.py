"""Scan a folder or a Parquet table of claim photos on Spark, write Parquet,
print a summary of verdicts.

    pip install "./python[spark]"
    python python/examples/spark_scan.py /data/claims out.parquet --master "local[2]"
    python python/examples/spark_scan.py claims.parquet out.parquet --parquet --content-col image

A folder is read with Spark's ``binaryFile`` source (recursively, image
extensions only), so the executors get the bytes and need no access to the
files. A Parquet table needs a binary column (``--content-col``) or a column
of paths the executors can read (``--path-col``). The output holds every
input column but the image bytes, plus trueshot's columns (see
``trueshot.spark.result_schema``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from trueshot.spark import DEFAULT_BATCH_SIZE, scan_dataframe

# binaryFile's glob is case-sensitive: list both spellings.
EXTENSIONS = ["jpg", "jpeg", "png", "webp", "tif", "tiff", "bmp", "gif"]
GLOB = "*.{" + ",".join(EXTENSIONS + [e.upper() for e in EXTENSIONS]) + "}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("input", help="a folder of images, or a Parquet table (--parquet)")
    parser.add_argument("output", help="the Parquet output (overwritten)")
    parser.add_argument("--parquet", action="store_true", help="the input is a Parquet table")
    parser.add_argument("--content-col", help="binary column of a Parquet input")
    parser.add_argument("--path-col", help="path column of a Parquet input")
    parser.add_argument("--master", default=None, help='e.g. "local[2]"; default: spark-submit\'s')
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument(
        "--partitions", type=int, default=None, help="default: 4 per core of the cluster"
    )
    parser.add_argument("--heatmaps", action="store_true", help="add heatmap_png")
    args = parser.parse_args()

    # Workers must run an interpreter that has trueshot; locally, this one.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("trueshot-scan")
    if args.master:
        builder = builder.master(args.master)
    spark = (
        builder
        # Arrow hands a Python worker this many rows at once; with image
        # bytes in the rows, keep it near the batch size to bound memory.
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", str(2 * args.batch_size))
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("WARN")

    if args.parquet:
        df = spark.read.parquet(args.input)
        content_col, path_col = args.content_col, args.path_col
    else:
        df = (
            spark.read.format("binaryFile")
            .option("recursiveFileLookup", "true")
            .option("pathGlobFilter", GLOB)
            .load(args.input)
            .select("path", "length", "content")
        )
        content_col, path_col = "content", None
    partitions = args.partitions or 4 * spark.sparkContext.defaultParallelism
    df = df.repartition(partitions)

    start = time.perf_counter()
    scanned = scan_dataframe(
        df,
        path_col=path_col,
        content_col=content_col,
        heatmaps=args.heatmaps,
        batch_size=args.batch_size,
    )
    if content_col is not None:
        scanned = scanned.drop(content_col)
    scanned.write.mode("overwrite").parquet(args.output)
    elapsed = time.perf_counter() - start

    result = spark.read.parquet(args.output)
    summary = result.groupBy(F.coalesce("verdict", F.lit("error")).alias("verdict")).count()
    counts = {row["verdict"]: row["count"] for row in summary.collect()}
    total = sum(counts.values())
    cores = spark.sparkContext.defaultParallelism
    print(f"scanned {total} images in {elapsed:.1f} s on {cores} cores: "
          f"{total / elapsed:.2f} images/s, {total / elapsed / cores:.2f} images/s per core")
    for verdict in ("authentic", "inconclusive", "edited", "ai_generated", "error"):
        print(f"  {verdict:<13} {counts.get(verdict, 0):>7}")
    errors = result.where("error is not null").groupBy("error.code").count().collect()
    for row in errors:
        print(f"  error {row['code']}: {row['count']}")
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
