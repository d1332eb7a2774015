"""Results pickle, so that process pools (multiprocessing, concurrent.futures)
can hand them back: reports, findings and every exception trueshot raises.
A Config pickles too, so a worker function can carry one
(`functools.partial(trueshot.analyze, config=...)`); a References does not,
and says to build one in each process."""

from __future__ import annotations

import concurrent.futures
import copy
import functools
import multiprocessing
import pathlib
import pickle
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import trueshot
from conftest import MODEL, config_settings, sample_configs, claim, listing, make_pixels, png_bytes


def round_trip(value: Any) -> Any:
    return pickle.loads(pickle.dumps(value))


def assert_same_report(back: trueshot.Report, report: trueshot.Report) -> None:
    assert type(back) is trueshot.Report
    assert back.to_json() == report.to_json()
    assert back.to_dict() == report.to_dict()
    assert repr(back) == repr(report)
    assert [f.to_dict() for f in back.findings] == [f.to_dict() for f in report.findings]
    assert (back.score, back.scores, back.reference) == (report.score, report.scores, report.reference)
    assert back.heatmap_png() == report.heatmap_png()
    if report.heatmap is None:
        assert back.heatmap is None
    else:
        assert back.heatmap is not None
        assert back.heatmap.tobytes() == report.heatmap.tobytes()


def test_report_round_trips_with_reference_and_heatmap() -> None:
    # A derived, damaged claim: reference match, regions and a change map.
    report = trueshot.analyze(claim(listing(1), damage=True), reference=listing(1))
    assert report.reference is not None and report.heatmap is not None
    assert_same_report(round_trip(report), report)
    assert_same_report(copy.deepcopy(report), report)


def test_report_without_heatmap_round_trips() -> None:
    report = trueshot.analyze(make_pixels(48, 64, 3), config=trueshot.Config(heatmap=False))
    back = round_trip(report)
    assert_same_report(back, report)
    assert back.heatmap_png() is None


def test_an_unpickled_report_says_it_cannot_draw_its_page() -> None:
    report = trueshot.analyze(png_bytes(make_pixels(48, 64, 3)))
    assert report.to_html()  # the original still has its image
    with pytest.raises(RuntimeError, match="unpickled report does not carry its image"):
        round_trip(report).to_html()


def test_a_copied_report_is_the_report_and_draws_its_page() -> None:
    report = trueshot.analyze(png_bytes(make_pixels(48, 64, 3)))
    assert copy.copy(report) is report
    assert copy.deepcopy(report) is report
    assert copy.deepcopy([report])[0].to_html() == report.to_html()


def test_finding_round_trips() -> None:
    report = trueshot.analyze(claim(listing(1), damage=True), reference=listing(1))
    assert report.findings
    for finding in report.findings:
        back = round_trip(finding)
        assert type(back) is trueshot.Finding
        assert back.to_dict() == finding.to_dict()
        assert repr(back) == repr(finding)


def test_a_corrupt_pickle_raises_value_error() -> None:
    report = trueshot.analyze(make_pixels(48, 64, 3))
    rebuild, (json, heatmap) = report.__reduce__()
    with pytest.raises(ValueError, match="cannot unpickle a trueshot.Report"):
        rebuild("{}", None)
    # Cells missing: the map would be read past its end.
    *geometry, cells = heatmap
    with pytest.raises(ValueError, match="inconsistent heatmap"):
        rebuild(json, (*geometry, cells[:-4]))


def _raise_decode() -> None:
    trueshot.analyze(b"\xff\xd8\xff\xe0 truncated")


def _raise_unsupported() -> None:
    trueshot.analyze(b"not an image at all")


def _raise_too_large() -> None:
    trueshot.analyze(make_pixels(64, 64, 3), config=trueshot.Config(max_pixels=100))


def _raise_invalid_config() -> None:
    trueshot.Config(max_false_alarm=2.0)


def _raise_not_found() -> None:
    trueshot.analyze("/nonexistent/claim.jpg")


@pytest.mark.parametrize(
    ("raise_it", "cls"),
    [
        (_raise_decode, trueshot.DecodeError),
        (_raise_unsupported, trueshot.UnsupportedFormatError),
        (_raise_too_large, trueshot.ImageTooLargeError),
        (_raise_invalid_config, trueshot.InvalidConfigError),
        (_raise_not_found, FileNotFoundError),
    ],
    ids=["decode", "unsupported", "too_large", "invalid_config", "not_found"],
)
def test_exceptions_round_trip(raise_it: Callable[[], None], cls: type[Exception]) -> None:
    with pytest.raises(cls) as info:
        raise_it()
    error = info.value
    back = round_trip(error)
    assert type(back) is type(error)
    assert (back.args, str(back)) == (error.args, str(error))
    assert getattr(back, "code") == getattr(error, "code")
    if isinstance(error, OSError):
        assert isinstance(back, OSError)
        assert (back.errno, back.filename) == (error.errno, error.filename)


def test_results_come_back_from_a_process_pool(tmp_path: pathlib.Path) -> None:
    good = tmp_path / "good.png"
    good.write_bytes(png_bytes(make_pixels(48, 64, 3)))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    paths = [str(good), str(broken)]
    # "spawn" (macOS, Windows): what is handed over travels pickled.
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        results = pool.submit(trueshot.analyze_many, paths, return_exceptions=True).result()
    here = trueshot.analyze_many(paths, return_exceptions=True)
    assert isinstance(results[0], trueshot.Report) and isinstance(here[0], trueshot.Report)
    # Everything but the wall times, which differ between runs.
    assert {**results[0].to_dict(), "timings_ms": None} == {**here[0].to_dict(), "timings_ms": None}
    pooled_map, local_map = results[0].heatmap, here[0].heatmap
    assert pooled_map is not None and local_map is not None
    assert np.array_equal(pooled_map, local_map)
    assert isinstance(results[1], trueshot.DecodeError)
    assert (str(results[1]), getattr(results[1], "code")) == (str(here[1]), "decode")


# Settings and catalogues: what a worker function is called with.



@pytest.mark.parametrize("config", sample_configs())
def test_config_round_trips(config: trueshot.Config) -> None:
    back = round_trip(config)
    assert type(back) is trueshot.Config
    assert back == config and repr(back) == repr(config)
    assert copy.deepcopy(config) == config


@pytest.mark.parametrize("config", sample_configs())
def test_equal_configs_hash_alike(config: trueshot.Config) -> None:
    twin = round_trip(config)
    assert hash(twin) == hash(config)
    assert {config: "cached"}[twin] == "cached"
    assert len({config, twin, trueshot.Config()}) == (1 if config == trueshot.Config() else 2)


def test_config_pickle_carries_every_setting() -> None:
    # A setting added later fails here until carried.
    rebuild, args = trueshot.Config().__reduce__()
    assert args == ()
    assert isinstance(rebuild, functools.partial) and rebuild.func is trueshot.Config
    assert set(rebuild.keywords) == config_settings()


def test_a_missing_model_file_fails_where_the_config_is_unpickled(tmp_path: pathlib.Path) -> None:
    # The settings are checked again on the way in, as when they were made.
    model = tmp_path / "model.json"
    model.write_bytes(MODEL.read_bytes())
    data = pickle.dumps(trueshot.Config(model_path=model))
    model.unlink()
    with pytest.raises(trueshot.InvalidConfigError):
        pickle.loads(data)


def test_a_partial_with_a_config_runs_in_a_process_pool() -> None:
    config = trueshot.Config(heatmap=False, max_false_alarm=0.05, copy_move=False)
    analyze = functools.partial(trueshot.analyze, config=config)
    image = png_bytes(make_pixels(48, 64, 3))
    # "spawn" (macOS, Windows): what is handed over travels pickled.
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        [pooled] = pool.map(analyze, [image])
    here = analyze(image)
    assert {**pooled.to_dict(), "timings_ms": None} == {**here.to_dict(), "timings_ms": None}
    assert pooled.heatmap is None  # the child used the settings given
    assert "copy_move" not in pooled.timings_ms


def analyze_many_of(image: bytes) -> list[trueshot.Report]:
    return trueshot.analyze_many([image, image])


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="no fork")
# Python 3.12+ warns of forking a process with threads: that is the case.
@pytest.mark.filterwarnings("ignore:This process:DeprecationWarning")
def test_a_forked_child_analyses_after_its_parent_did() -> None:
    # Linux's default start method before Python 3.14, and pre-fork servers:
    # the child inherits rayon's pools without their threads, and must not
    # wait on them forever. The parent analyses first, so its pools exist.
    image = png_bytes(make_pixels(96, 128, 3))
    here = trueshot.analyze(image)
    trueshot.analyze_many([image])
    context = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        pooled = pool.submit(trueshot.analyze, image).result(timeout=120)
        many = pool.submit(analyze_many_of, image).result(timeout=120)
    same = {**here.to_dict(), "timings_ms": None}
    assert {**pooled.to_dict(), "timings_ms": None} == same
    assert [{**r.to_dict(), "timings_ms": None} for r in many] == [same, same]


def test_references_refuse_to_pickle_and_copy_as_themselves() -> None:
    catalogue = trueshot.References(listing(1))
    # Pickling the photos instead would index them again in every task.
    with pytest.raises(TypeError, match="build one in each process"):
        pickle.dumps(catalogue)
    analyze = functools.partial(trueshot.analyze, reference=catalogue)
    with pytest.raises(TypeError, match="build one in each process"):
        pickle.dumps(analyze)
    # Immutable: a copy is the catalogue itself.
    assert copy.copy(catalogue) is catalogue
    assert copy.deepcopy(catalogue) is catalogue
    assert copy.deepcopy({"listing": catalogue})["listing"] is catalogue
