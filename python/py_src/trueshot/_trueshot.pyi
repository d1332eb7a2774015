"""Type stubs of the native module. Checked by ``python -m mypy.stubtest trueshot._trueshot``."""

import os
import pathlib
from collections.abc import Iterable, Sequence
from typing import Any, Final, Literal, NoReturn, Protocol, Union, final, overload

import numpy as np
import numpy.typing as npt

__all__ = [
    "__version__",
    "Config",
    "DecodeError",
    "Finding",
    "ImageTooLargeError",
    "InputChangedError",
    "InvalidConfigError",
    "MemoryBudget",
    "References",
    "Report",
    "TrueshotError",
    "UnsupportedFormatError",
    "analyze",
    "analyze_many",
    "set_spare_memory",
    "write_heatmap_png",
]

__version__: Final[str]

class _PILImage(Protocol):
    """What trueshot needs from a PIL image (Pillow itself is optional); its
    ``info`` dict, when it has one, gives the file's metadata Pillow kept."""

    @property
    def mode(self) -> str: ...
    @property
    def size(self) -> tuple[int, int]: ...
    def convert(self, mode: str, /) -> Any: ...

_Image = Union[str, os.PathLike[str], bytes, bytearray, npt.NDArray[np.uint8], _PILImage]
_Verdict = Literal["authentic", "inconclusive", "edited", "ai_generated"]

class TrueshotError(Exception):
    """Base class of every error trueshot raises about an image or a setting."""

class DecodeError(TrueshotError):
    """The input claims to be an image but is truncated or corrupt."""

class UnsupportedFormatError(TrueshotError):
    """The bytes are not an image format trueshot reads (HEIC and AVIF are named)."""

class ImageTooLargeError(TrueshotError):
    """The image or file exceeds ``Config.max_pixels`` or ``Config.max_file_bytes``."""

class InvalidConfigError(TrueshotError, ValueError):
    """A Config value is out of range, or a model file is unusable."""

class InputChangedError(TrueshotError, RuntimeError):
    """A file analysed by path changed before ``Report.to_html`` read it again."""

@final
class Config:
    def __new__(
        cls,
        *,
        max_pixels: Union[int, None] = None,
        max_file_bytes: Union[int, None] = None,
        max_decoded_bytes: Union[int, None] = None,
        heatmap: Union[bool, None] = None,
        max_false_alarm: Union[float, None] = None,
        review_rate: Union[float, None] = None,
        model_path: Union[str, os.PathLike[str], None] = None,
        time_budget_ms: Union[int, None] = None,
        threads: Union[int, None] = None,
        copy_move: Union[bool, None] = None,
        copy_move_max_pixels: Union[int, None] = None,
    ) -> Config:
        """Analysis settings; an argument left out keeps the Rust default
        (max_pixels=100_000_000, max_file_bytes=256 MiB, max_decoded_bytes=1 GiB,
        heatmap=True, max_false_alarm=0.01, review_rate=None, model_path=None,
        time_budget_ms=0, threads=0, copy_move_max_pixels=2048*1536; copy_move=True
        runs the copy-move detector at every size, False never; give one of the
        two). review_rate, in (0, 1), is the share of genuine photos that may be
        sent to review or flagged: it sets the authentic threshold from the
        model's out-of-fold scores of genuine photos (None keeps the model's own,
        2.5% at the default max_false_alarm). max_false_alarm gets the model's
        loosest operating point at or under it (built-in: 0.5%, 1%, 2%, 5%,
        10%), the strictest for a smaller rate; reports carry its thresholds.
        Raises InvalidConfigError for a
        value out of range or a model file that cannot be loaded (the file is
        loaded here) or has no genuine scores for a review_rate. Warns
        (UserWarning) when the model file was fitted by another build of
        trueshot, whose scores may differ from the fit's."""
    @property
    def max_pixels(self) -> int: ...
    @property
    def max_file_bytes(self) -> int: ...
    @property
    def max_decoded_bytes(self) -> int: ...
    @property
    def heatmap(self) -> bool: ...
    @property
    def max_false_alarm(self) -> float: ...
    @property
    def review_rate(self) -> Union[float, None]: ...
    @property
    def flag_threshold(self) -> float:
        """Scores at or above it are flagged (Report.flag_threshold of this
        config's analyses): set by the model and max_false_alarm. A model
        file is read once, when the Config is made; every analysis with it
        uses that model (make a new Config to pick up a refitted file)."""
    @property
    def authentic_threshold(self) -> float:
        """Scores under it are authentic; from it up to flag_threshold they
        go to review (Report.authentic_threshold): set by the model,
        max_false_alarm and review_rate."""
    @property
    def model_path(self) -> Union[pathlib.Path, None]: ...
    @property
    def time_budget_ms(self) -> int: ...
    @property
    def threads(self) -> int: ...
    @property
    def copy_move(self) -> bool: ...
    @property
    def copy_move_max_pixels(self) -> int: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...
    def __reduce__(self) -> tuple[Any, ...]: ...

@final
class References:
    def __new__(
        cls,
        images: Union[_Image, Sequence[_Image]],
        *,
        config: Union[Config, None] = None,
    ) -> References:
        """The merchant's listing photos, read and indexed once; pass it as
        ``reference=`` to compare many claims with them. ``config``'s limits
        apply to reading them. Raises as ``analyze(..., reference=images)``
        would for a photo that cannot be read or decoded."""
    def __len__(self) -> int: ...
    def __reduce__(self) -> NoReturn:
        """Raises TypeError: build a References in each process."""
    def __copy__(self) -> References: ...
    def __deepcopy__(self, memo: Any, /) -> References: ...

@final
class MemoryBudget:
    def __new__(cls, megabytes: int) -> MemoryBudget:
        """Megabytes of memory shared by the ``analyze_many`` calls given it
        as ``memory_budget=`` (calls on several Python threads): their images
        together are admitted while their estimated peak memory fits.
        Raises InvalidConfigError unless 1 <= megabytes <= 16777216."""
    @property
    def megabytes(self) -> int: ...
    @property
    def peak_bytes(self) -> int:
        """The most bytes admitted at once so far."""
    def __reduce__(self) -> NoReturn:
        """Raises TypeError: a budget counts one process's memory."""
    def __copy__(self) -> MemoryBudget: ...
    def __deepcopy__(self, memo: Any, /) -> MemoryBudget: ...

@final
class Finding:
    @property
    def detector(self) -> str: ...
    @property
    def code(self) -> str: ...
    @property
    def score(self) -> float: ...
    @property
    def class_(self) -> Literal["ai_generated", "edited", "none"]: ...
    @property
    def message(self) -> str: ...
    @property
    def message_zh(self) -> str: ...
    @property
    def region(self) -> Union[dict[str, int], None]: ...
    def to_dict(self) -> dict[str, Any]: ...
    def __reduce__(self) -> tuple[Any, ...]: ...

@final
class Report:
    @property
    def score(self) -> float: ...
    @property
    def verdict(self) -> _Verdict: ...
    @property
    def flagged(self) -> bool: ...
    @property
    def scores(self) -> dict[str, float]: ...
    @property
    def flag_threshold(self) -> float: ...
    @property
    def authentic_threshold(self) -> float: ...
    @property
    def deciding(self) -> list[str]: ...
    @property
    def findings(self) -> list[Finding]: ...
    @property
    def provenance(self) -> dict[str, Any]: ...
    @property
    def image(self) -> dict[str, Any]: ...
    @property
    def reference(self) -> Union[dict[str, Any], None]: ...
    @property
    def features(self) -> dict[str, float]: ...
    @property
    def incomplete(self) -> list[str]: ...
    @property
    def timings_ms(self) -> dict[str, float]: ...
    @property
    def heatmap(self) -> Union[npt.NDArray[np.float32], None]: ...
    def heatmap_png(self) -> Union[bytes, None]: ...
    def to_html(
        self,
        *,
        title: Union[str, None] = None,
        lang: Literal["en", "zh"] = "en",
        max_side: int = 1600,
    ) -> str: ...
    def to_dict(self) -> dict[str, Any]: ...
    def to_json(self) -> str: ...
    def __reduce__(self) -> tuple[Any, ...]: ...
    def __copy__(self) -> Report: ...
    def __deepcopy__(self, memo: Any, /) -> Report: ...

def analyze(
    image: _Image,
    *,
    reference: Union[_Image, Sequence[_Image], References, None] = None,
    config: Union[Config, None] = None,
) -> Report: ...
@overload
def analyze_many(
    images: Iterable[_Image],
    *,
    reference: Union[_Image, Sequence[_Image], References, None] = None,
    threads: Union[int, None] = None,
    config: Union[Config, None] = None,
    return_exceptions: Literal[False] = False,
    max_memory_mb: Union[int, None] = None,
    memory_budget: Union[MemoryBudget, None] = None,
) -> list[Report]: ...
@overload
def analyze_many(
    images: Iterable[_Image],
    *,
    reference: Union[_Image, Sequence[_Image], References, None] = None,
    threads: Union[int, None] = None,
    config: Union[Config, None] = None,
    return_exceptions: bool,
    max_memory_mb: Union[int, None] = None,
    memory_budget: Union[MemoryBudget, None] = None,
) -> list[Union[Report, Exception]]: ...
def write_heatmap_png(report: Report, path: Union[str, os.PathLike[str]]) -> None: ...
def set_spare_memory(megabytes: int) -> None: ...
