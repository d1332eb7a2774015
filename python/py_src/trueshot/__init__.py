"""trueshot: tells whether a photo is a genuine camera photo or was generated
or edited with AI or image tools, and shows where and why.

>>> import trueshot
>>> report = trueshot.analyze("claim.jpg")          # doctest: +SKIP
>>> report.verdict, report.score                    # doctest: +SKIP
('authentic', 0.04)

The work is done in Rust (the ``trueshot`` crate) with the GIL released.
"""

from ._trueshot import (
    Config,
    DecodeError,
    Finding,
    ImageTooLargeError,
    InputChangedError,
    InvalidConfigError,
    MemoryBudget,
    References,
    Report,
    TrueshotError,
    UnsupportedFormatError,
    __version__,
    analyze,
    analyze_many,
    set_spare_memory,
    write_heatmap_png,
)

__all__ = [
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
    "__version__",
    "analyze",
    "analyze_many",
    "set_spare_memory",
    "write_heatmap_png",
]
