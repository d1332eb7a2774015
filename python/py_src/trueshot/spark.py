"""Scan a Spark DataFrame of images with trueshot (``pip install trueshot[spark]``).

>>> from trueshot.spark import scan_dataframe                       # doctest: +SKIP
>>> images = (spark.read.format("binaryFile")                        # doctest: +SKIP
...           .option("recursiveFileLookup", "true").load("s3a://claims/2024/"))
>>> scan_dataframe(images, content_col="content").drop("content") \\
...     .write.parquet("s3a://claims-scanned/2024/")                 # doctest: +SKIP

The scan is a ``mapInArrow``: each Python worker imports trueshot once and
analyses ``batch_size`` rows at a time in Rust, with the GIL released, using
``spark.task.cpus`` threads. The DataFrame's own columns pass through as the
Arrow batches Spark hands over, untouched (no round trip through pandas,
which would turn a nullable ``bigint`` into a float and round it). A row whose image cannot be analysed (missing
file, corrupt or unsupported data, a bad reference) gets an ``error`` struct
and null results; it never fails the job.

pyspark and pyarrow are imported lazily, so ``import trueshot`` does not
need them.
"""

from __future__ import annotations

import concurrent.futures
import os
import urllib.parse
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Optional, Union

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame
    from pyspark.sql.types import StructType

    from ._trueshot import Config, References

__all__ = ["OUTPUT_COLUMNS", "scan_dataframe", "result_schema"]

#: Columns added by :func:`scan_dataframe`, in order (``heatmap_png`` only
#: with ``heatmaps=True``).
OUTPUT_COLUMNS = (
    "score", "verdict", "scores", "findings", "reference", "incomplete", "error", "heatmap_png"
)

#: Settings of ``trueshot.Config`` carried to the executors as keyword
#: arguments (``config`` may also be a dict of them, and ``heatmaps=True``
#: overrides one): every field of the Config, or an executor silently uses
#: the default for the one left out. ``copy_move`` is not one: it only reads
#: ``copy_move_max_pixels`` (0 = off, 2**64 - 1 = every size), which carries it.
_CONFIG_FIELDS = (
    "max_pixels",
    "max_file_bytes",
    "max_decoded_bytes",
    "heatmap",
    "max_false_alarm",
    "review_rate",
    "model_path",
    "time_budget_ms",
    "threads",
    "copy_move_max_pixels",
)

#: Rows analysed per call into Rust. 64 keeps a batch of 12-megapixel JPEGs
#: (a few MB encoded per row, kept by the reports, plus one analysis of about
#: 15 bytes per pixel in flight per thread) well under a GB per task while
#: leaving the per-call overhead negligible.
DEFAULT_BATCH_SIZE = 64


def result_schema(*, heatmaps: bool = False) -> StructType:
    """The Spark schema of the columns :func:`scan_dataframe` adds.

    ``score`` and the per-class ``scores`` are in [0, 1] (higher = more
    suspicious), ``verdict`` is ``authentic``, ``inconclusive``, ``edited`` or
    ``ai_generated``; all are null when ``error`` is set. ``incomplete``
    names the detectors a time budget (``Config.time_budget_ms``) skipped
    or cut short (``reference``: listings left uncompared), as in the JSON
    record; it is empty when every detector ran, and when it is not the
    verdict is at best ``inconclusive`` (unless every listing was compared
    and the claim is one of them unchanged). ``error.code`` is the
    code of the CLI's JSON records (``decode``, ``unsupported_format``, ``io``...).
    """
    from pyspark.sql import types as T

    fields = [
        T.StructField("score", T.FloatType()),
        T.StructField("verdict", T.StringType()),
        T.StructField("scores", T.MapType(T.StringType(), T.FloatType())),
        T.StructField(
            "findings",
            T.ArrayType(
                T.StructType(
                    [
                        T.StructField("code", T.StringType()),
                        T.StructField("score", T.FloatType()),
                        T.StructField("message", T.StringType()),
                        T.StructField("message_zh", T.StringType()),
                    ]
                )
            ),
        ),
        T.StructField(
            "reference",
            T.StructType(
                [
                    T.StructField("derived", T.BooleanType()),
                    T.StructField("similarity", T.FloatType()),
                    T.StructField("index", T.IntegerType()),
                    T.StructField("path", T.StringType()),
                    T.StructField(
                        "transform",
                        T.StructType(
                            [
                                T.StructField("scale", T.FloatType()),
                                T.StructField("rotation_deg", T.FloatType()),
                                T.StructField("dx", T.FloatType()),
                                T.StructField("dy", T.FloatType()),
                                T.StructField("mirrored", T.BooleanType()),
                                T.StructField("aspect", T.FloatType()),
                            ]
                        ),
                    ),
                    T.StructField("changed_fraction", T.FloatType()),
                    T.StructField("palette", T.BooleanType()),
                ]
            ),
        ),
        T.StructField("incomplete", T.ArrayType(T.StringType())),
        T.StructField(
            "error",
            T.StructType(
                [T.StructField("code", T.StringType()), T.StructField("message", T.StringType())]
            ),
        ),
    ]
    if heatmaps:
        fields.append(T.StructField("heatmap_png", T.BinaryType()))
    return T.StructType(fields)


def scan_dataframe(
    df: DataFrame,
    *,
    path_col: Optional[str] = None,
    content_col: Optional[str] = None,
    reference_col: Optional[str] = None,
    reference: Any = None,
    config: Union[Config, dict[str, Any], None] = None,
    heatmaps: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    threads: Optional[int] = None,
    max_memory_mb: Optional[int] = None,
) -> DataFrame:
    """Analyse the image of every row; return ``df`` with the columns of
    :func:`result_schema` added.

    Give ``content_col`` (a binary column holding encoded files, as Spark's
    ``binaryFile`` source gives in ``content``) or ``path_col`` (a string
    column of paths the executors can read: local or mounted paths, or
    ``file:`` URIs; read object storage through ``binaryFile`` instead). With
    neither, ``content`` is used if the DataFrame has it, else ``path``.

    ``reference_col`` optionally names a column holding each row's listing
    photo(s): a path, bytes, or an array of them (see ``trueshot.analyze``).
    ``reference`` is instead one listing photo, or a list of them, compared
    with every row (paths must be readable on the driver and on every
    executor); each task reads and indexes it once for its whole partition,
    and an unreadable one fails here, on the driver.
    ``config`` is a ``trueshot.Config`` or a dict of its keyword arguments;
    a ``model_path`` must be readable on the driver and on every executor. ``heatmaps=True`` adds
    ``heatmap_png`` (8-bit greyscale PNG at image resolution).

    ``batch_size`` rows are analysed per call into Rust (memory grows with
    it); Arrow hands the worker ``spark.sql.execution.arrow.maxRecordsPerBatch``
    rows at a time (default 10,000), so set that to a few times ``batch_size``
    when rows hold image bytes. ``threads`` per task defaults to
    ``spark.task.cpus``. ``max_memory_mb`` admits the images of each batch
    into Rust against one budget of that many megabytes
    (``trueshot.MemoryBudget``): the rows without a listing of their own,
    analysed together first, then the rows with their own listings, one
    image per thread side by side. The budget is per task: an executor
    running several tasks at once holds up to that many budgets.
    """
    if batch_size < 1:
        raise ValueError(f"scan_dataframe: batch_size must be >= 1, got {batch_size}")
    if threads is not None and not 0 <= threads <= 1024:
        raise ValueError(f"scan_dataframe: threads must be in 0..=1024, got {threads}")
    if max_memory_mb is not None and not 1 <= max_memory_mb <= 1 << 24:
        raise ValueError(
            f"scan_dataframe: max_memory_mb must be in 1..=16777216, got {max_memory_mb}"
        )
    columns = list(df.columns)
    if path_col is None and content_col is None:
        if "content" in columns:
            content_col = "content"
        elif "path" in columns:
            path_col = "path"
        else:
            raise ValueError(
                "scan_dataframe: give path_col or content_col (the DataFrame has neither "
                "a 'content' nor a 'path' column)"
            )
    if path_col is not None and content_col is not None:
        raise ValueError("scan_dataframe: give path_col or content_col, not both")
    image_col = content_col if content_col is not None else path_col
    assert image_col is not None
    if reference is not None and reference_col is not None:
        raise ValueError("scan_dataframe: give reference or reference_col, not both")
    for name in (image_col, reference_col):
        if name is not None and name not in columns:
            raise ValueError(f"scan_dataframe: no column {name!r} in {columns}")
    # Spark resolves column names without regard to case (by default): a
    # `Score` column would make `score` ambiguous.
    taken = {c.lower() for c in columns}
    clash = [c for c in OUTPUT_COLUMNS if c in taken]
    if clash:
        raise ValueError(f"scan_dataframe: the DataFrame already has columns {clash}")
    # Spark cannot map a DataFrame that repeats a column name (its error,
    # AMBIGUOUS_REFERENCE, would come from deep inside mapInArrow).
    repeated = sorted({c for c in columns if [d.lower() for d in columns].count(c.lower()) > 1})
    if repeated:
        raise ValueError(
            f"scan_dataframe: the DataFrame repeats the column names {repeated}; "
            "rename or drop the copies first"
        )

    from pyspark.sql import types as T

    # A column of the wrong type would fail every task; say so here.
    kind, wanted = ("binary", T.BinaryType) if content_col is not None else ("string", T.StringType)
    found = df.schema[image_col].dataType
    if not isinstance(found, wanted):
        raise ValueError(
            f"scan_dataframe: column {image_col!r} is {found.simpleString()}, expected {kind} "
            "(content_col holds encoded files, path_col their paths)"
        )
    if reference_col is not None:
        listing_type = df.schema[reference_col].dataType
        cell_type = (
            listing_type.elementType if isinstance(listing_type, T.ArrayType) else listing_type
        )
        # A column of nulls (`F.lit(None)`) is a listing for no row.
        if not isinstance(cell_type, (T.StringType, T.BinaryType, T.NullType)):
            raise ValueError(
                f"scan_dataframe: column {reference_col!r} is {listing_type.simpleString()}, "
                "expected string, binary, or an array of them (listing paths or encoded files)"
            )
    config_kwargs = _config_kwargs(config)
    if heatmaps:
        # heatmap_png needs the map: asking for it overrides heatmap=False.
        config_kwargs["heatmap"] = True
    # Fail on the driver, not in every task, when the settings are wrong.
    driver_config = _make_config(config_kwargs)
    listing = None if reference is None else _fixed_reference(reference)
    if listing is not None:
        # And when a listing photo cannot be read: it would fail every row.
        from ._trueshot import References

        References(listing, config=driver_config)

    added = result_schema(heatmaps=heatmaps)
    schema = T.StructType(list(df.schema.fields) + list(added.fields))

    # pyarrow.RecordBatch in and out (pyarrow ships no type information).
    def scan(batches: Iterator[Any]) -> Iterator[Any]:
        return _scan_batches(
            batches,
            image_col=columns.index(image_col),
            is_path=path_col is not None,
            reference_col=None if reference_col is None else columns.index(reference_col),
            reference=listing,
            config_kwargs=config_kwargs,
            heatmaps=heatmaps,
            batch_size=batch_size,
            threads=threads,
            max_memory_mb=max_memory_mb,
        )

    return df.mapInArrow(scan, schema)


def _config_kwargs(config: Union[Config, dict[str, Any], None]) -> dict[str, Any]:
    if config is None:
        return {}
    if isinstance(config, dict):
        return dict(config)
    kwargs = {name: getattr(config, name) for name in _CONFIG_FIELDS}
    if kwargs["model_path"] is not None:
        kwargs["model_path"] = os.fspath(kwargs["model_path"])
    return kwargs


def _make_config(kwargs: dict[str, Any]) -> Config:
    from ._trueshot import Config

    return Config(**kwargs)


def _task_threads(threads: Optional[int]) -> int:
    """Threads for one task: as asked, else ``spark.task.cpus`` (Spark runs
    one task per reserved core, so more would oversubscribe the executor)."""
    if threads is not None:
        return threads
    try:
        from pyspark import TaskContext

        context = TaskContext.get()
        if context is not None:
            return max(1, int(context.cpus()))
    except Exception:  # pragma: no cover - outside a task, or an old pyspark
        pass
    return 0


def _local_path(value: str) -> str:
    """A path from a path column: ``file:`` paths become local paths; other
    schemes are left as they are and fail as unreadable files.

    ``binaryFile`` writes Hadoop paths, ``file:/dir/a b#1.jpg``, without
    percent-encoding, while ``Path.as_uri()`` writes ``file:///dir/a%20b%231.jpg``.
    The name is taken literally first (a file may be named ``c%20d.jpg``, and
    ``#`` or ``?`` are characters of it, not URL syntax), decoded only when
    no file has the literal name."""
    if not value.startswith("file:"):
        return value
    path = value[len("file:") :]
    if path.startswith("//"):
        # An authority: only the local host's (empty or localhost) is ours.
        end = path.find("/", 2)
        if path[2 : end if end >= 0 else len(path)] not in ("", "localhost"):
            return value
        path = path[end:] if end >= 0 else "/"
    if os.path.exists(path):
        return path
    decoded = urllib.parse.unquote(path)
    return decoded if os.path.exists(decoded) else path


def _image_value(value: Any, is_path: bool) -> Any:
    if value is None:
        return None
    if is_path:
        return _local_path(str(value))
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return bytes(memoryview(value))


def _reference_value(value: Any) -> Any:
    """A reference cell as ``trueshot.analyze`` takes it, hashable so that
    rows with the same listing share one catalogue."""
    if value is None:
        return None
    if isinstance(value, str):
        return _local_path(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, Sequence) or hasattr(value, "__iter__"):
        items = tuple(_reference_value(v) for v in value)
        return items if items else None
    return value


def _fixed_reference(reference: Any) -> list[Any]:
    """``scan_dataframe(reference=...)`` as a list that pickles to the
    executors: paths as local paths, like the cells of a path column."""
    from ._trueshot import References

    if isinstance(reference, References):
        # It cannot be pickled; its photos can, and each task indexes them.
        raise TypeError(
            "scan_dataframe: give the listing photos as reference (paths, bytes, arrays), "
            "not a trueshot.References: each executor builds its own"
        )
    items = list(reference) if isinstance(reference, (list, tuple)) else [reference]
    return [_local_path(os.fspath(r)) if isinstance(r, (str, os.PathLike)) else r for r in items]


def _error(code: str, message: str) -> dict[str, Any]:
    return {"code": code, "message": message}


def _error_of(exc: BaseException) -> dict[str, Any]:
    code = getattr(exc, "code", None)
    if not isinstance(code, str):
        code = "invalid_input" if isinstance(exc, (TypeError, ValueError)) else "internal"
    return _error(code, str(exc))


def _row(result: Any, heatmaps: bool) -> dict[str, Any]:
    """One result (a Report, an exception, or an error dict) as output cells."""
    empty: dict[str, Any] = {
        "score": None,
        "verdict": None,
        "scores": None,
        "findings": None,
        "reference": None,
        "incomplete": None,
        "error": None,
    }
    if heatmaps:
        empty["heatmap_png"] = None
    if isinstance(result, dict):
        return {**empty, "error": result}
    if isinstance(result, BaseException):
        return {**empty, "error": _error_of(result)}
    reference = result.reference
    row = {
        "score": result.score,
        "verdict": result.verdict,
        "scores": result.scores,
        "findings": [
            {"code": f.code, "score": f.score, "message": f.message, "message_zh": f.message_zh}
            for f in result.findings
        ],
        "reference": None
        if reference is None
        else {
            "derived": reference["derived"],
            "similarity": reference["similarity"],
            "index": reference.get("index"),
            "path": reference.get("path"),
            "transform": reference.get("transform"),
            "changed_fraction": reference["changed_fraction"],
            "palette": reference.get("palette", False),
        },
        "incomplete": result.incomplete,
        "error": None,
    }
    if heatmaps:
        row["heatmap_png"] = result.heatmap_png()
    return row


def analyze_rows(
    images: Sequence[Any],
    references: Sequence[Any],
    *,
    config: Config,
    threads: int,
    heatmaps: bool,
    catalogue: Union[References, BaseException, None] = None,
    max_memory_mb: Optional[int] = None,
) -> list[dict[str, Any]]:
    """Analyse one batch; one dict of output cells per image, in order.

    ``images`` holds paths, bytes or None; ``references`` the same length,
    each None, one image or a tuple of them. Rows without a reference go to
    Rust together; rows sharing a reference share one catalogue; distinct
    references run side by side on ``threads`` Python threads (the GIL is
    released in Rust, so they run in parallel).

    ``catalogue`` is the listing of ``scan_dataframe(reference=...)``, built
    once per partition and compared with the rows without a reference of
    their own; an exception in its place (the listing could not be read on
    this executor) is the error of each of them.
    """
    import trueshot

    # One budget for the whole batch: the rows without a listing first, then
    # the listing groups side by side, all admitted against it.
    budget = None if max_memory_mb is None else trueshot.MemoryBudget(max_memory_mb)
    results: list[Any] = [None] * len(images)
    groups: dict[Any, list[int]] = {}
    for i, (image, reference) in enumerate(zip(images, references)):
        if image is None:
            results[i] = _error("missing_input", "the image cell is null")
        else:
            groups.setdefault(reference, []).append(i)

    def run(reference: Any, rows: list[int], pool_threads: int) -> None:
        if isinstance(reference, BaseException):
            for i in rows:
                results[i] = reference
            return
        batch = [images[i] for i in rows]
        ref = list(reference) if isinstance(reference, tuple) else reference
        try:
            reports = trueshot.analyze_many(
                batch,
                reference=ref,
                config=config,
                threads=pool_threads,
                return_exceptions=True,
                memory_budget=budget,
            )
        except Exception as exc:  # a bad reference, or a bad cell type
            reports = [exc] * len(rows)
        for i, report in zip(rows, reports):
            results[i] = report

    plain = groups.pop(None, None)
    if plain:
        run(catalogue, plain, threads)
    if groups:
        workers = threads if threads > 0 else (os.cpu_count() or 1)
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(run, ref, rows, 1) for ref, rows in groups.items()]
            for future in futures:
                future.result()
    return [_row(r, heatmaps) for r in results]


def _arrow_type(spark_type: Any) -> Any:
    """The Arrow type Spark expects back for a type of :func:`result_schema`."""
    import pyarrow as pa
    from pyspark.sql import types as T

    if isinstance(spark_type, T.StructType):
        return pa.struct([pa.field(f.name, _arrow_type(f.dataType)) for f in spark_type.fields])
    if isinstance(spark_type, T.ArrayType):
        return pa.list_(_arrow_type(spark_type.elementType))
    if isinstance(spark_type, T.MapType):
        return pa.map_(_arrow_type(spark_type.keyType), _arrow_type(spark_type.valueType))
    scalars = {
        T.FloatType: pa.float32(),
        T.StringType: pa.string(),
        T.BooleanType: pa.bool_(),
        T.IntegerType: pa.int32(),
        T.BinaryType: pa.binary(),
    }
    for kind, arrow in scalars.items():
        if isinstance(spark_type, kind):
            return arrow
    raise TypeError(f"no Arrow type for {spark_type!r}")  # pragma: no cover - a schema bug


def _scan_batches(
    batches: Iterator[Any],
    *,
    image_col: int,
    is_path: bool,
    reference_col: Optional[int],
    reference: Optional[list[Any]],
    config_kwargs: dict[str, Any],
    heatmaps: bool,
    batch_size: int,
    threads: Optional[int],
    max_memory_mb: Optional[int] = None,
) -> Iterator[Any]:
    """The scan of one partition (``pyarrow.RecordBatch`` in and out); ``image_col`` and ``reference_col`` are
    column positions."""
    import pyarrow as pa

    from ._trueshot import References

    config = _make_config(config_kwargs)
    task_threads = _task_threads(threads)
    # The fixed listing is read and indexed once for the whole partition
    # (every batch Arrow hands over, every chunk of batch_size rows), not
    # once per call into Rust; and not at all for an empty partition.
    catalogue: Union[References, BaseException, None] = None
    added = [
        pa.field(f.name, _arrow_type(f.dataType)) for f in result_schema(heatmaps=heatmaps).fields
    ]
    for batch in batches:
        for start in range(0, batch.num_rows, batch_size):
            if reference is not None and catalogue is None:
                try:
                    catalogue = References(reference, config=config)
                except Exception as exc:  # readable on the driver, not on this executor
                    catalogue = exc
            chunk = batch.slice(start, batch_size)
            cells = chunk.column(image_col).to_pylist()
            images = [_image_value(v, is_path) for v in cells]
            if reference_col is None:
                references: list[Any] = [None] * chunk.num_rows
            else:
                listings = chunk.column(reference_col).to_pylist()
                references = [_reference_value(v) for v in listings]
            rows = analyze_rows(
                images,
                references,
                config=config,
                threads=task_threads,
                heatmaps=heatmaps,
                catalogue=catalogue,
                max_memory_mb=max_memory_mb,
            )
            results = [pa.array([r[f.name] for r in rows], type=f.type) for f in added]
            yield pa.RecordBatch.from_arrays(
                [*chunk.columns, *results], schema=pa.schema([*chunk.schema, *added])
            )
