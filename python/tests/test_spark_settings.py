"""trueshot.spark carries the Config to the executors as keyword arguments
(a pyo3 object does not pickle). Checked without Spark: pyspark is only
imported inside a session, so this runs where test_spark.py is skipped."""

from __future__ import annotations

import inspect
import pathlib
import pickle

import pytest

import trueshot
from trueshot.spark import _CONFIG_FIELDS, _config_kwargs, _make_config

# A valid model file: the built-in model's source.
MODEL = pathlib.Path(__file__).resolve().parents[2] / "models" / "default.json"


def test_every_config_field_is_carried() -> None:
    # Config's read-only attributes are its fields; `copy_move` only reads
    # `copy_move_max_pixels`. A field added later fails here until carried.
    fields = {name for name, value in inspect.getmembers(trueshot.Config)
              if not name.startswith("_") and inspect.isgetsetdescriptor(value)}
    assert set(_CONFIG_FIELDS) == fields - {"copy_move"}


@pytest.mark.parametrize(
    "config",
    [
        trueshot.Config(),
        trueshot.Config(copy_move=False),
        trueshot.Config(copy_move=True),
        trueshot.Config(
            max_pixels=12_345_678,
            max_file_bytes=9_999_999,
            max_decoded_bytes=1 << 28,
            heatmap=False,
            max_false_alarm=0.037,
            model_path=MODEL,
            time_budget_ms=1500,
            threads=3,
            copy_move_max_pixels=777_777,
        ),
    ],
    ids=["default", "no-copy-move", "copy-move-always", "every-field"],
)
def test_config_round_trips_to_the_executors(config: trueshot.Config) -> None:
    kwargs = pickle.loads(pickle.dumps(_config_kwargs(config)))
    assert _make_config(kwargs) == config
    assert _make_config(_config_kwargs(kwargs)) == config  # a dict passes as it is
