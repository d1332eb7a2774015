#!/usr/bin/env python3
"""Time trueshot against Pillow decoding and the pyIFD peer methods (issue 8).

Not part of CI. It makes its own venv (numpy<2, Pillow, pyIFD from PyPI) on
first use, then re-runs itself inside it:

    python3 benches/compare_peers.py --trueshot target/release/trueshot \\
        [--largest N DIR] [--make-12mp] [--peer-max-mp 13] PHOTO...

For every photo it measures, single-threaded and best of --repeat runs:
  - Pillow decode (libjpeg-turbo) of the file to RGB: the baseline;
  - pyIFD NOI1, ELA, ADQ1, BLK and CFA1 (each once: they take seconds);
  - `trueshot scan --threads 1 --format json` (wall time of the process,
    so it includes start-up, decoding and metadata).
It prints ms per megapixel per method and the ratios: trueshot / Pillow,
(sum of the pyIFD methods) / trueshot, and each peer / trueshot.
"""

import argparse
import atexit
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
import venv

VENV = os.environ.get("TRUESHOT_PEER_VENV", "/tmp/trueshot-peers-venv")
PACKAGES = ["numpy<2", "Pillow", "pyIFD"]
PEERS = ["NOI1", "ELA", "ADQ1", "BLK", "CFA1"]


def ensure_venv():
    """Re-exec inside our venv, creating it on first use."""
    py = os.path.join(VENV, "bin", "python")
    if os.path.realpath(sys.prefix) == os.path.realpath(VENV):
        return
    if not os.path.exists(py):
        print(f"creating {VENV} with {' '.join(PACKAGES)}", file=sys.stderr)
        venv.create(VENV, with_pip=True)
        subprocess.check_call([py, "-m", "pip", "install", "-q", *PACKAGES])
    os.execv(py, [py, *sys.argv])


def peer_functions():
    """The pyIFD entry points, each taking a file path. Missing ones are None."""
    out = {}
    try:
        from pyIFD import ADQ1, BLK, CFA1, ELA, NOI1

        out = {
            "NOI1": NOI1.GetNoiseMap,
            "ELA": ELA.ELA,
            "ADQ1": ADQ1.detectDQ,
            "BLK": BLK.GetBlockGrid,
            "CFA1": CFA1.CFA1,
        }
    except Exception as e:  # noqa: BLE001 - report and go on without peers
        print(f"pyIFD unavailable: {e}", file=sys.stderr)
    return out


def best_of(fn, repeat):
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def make_12mp(path):
    """A 4000x3000 camera-like photo: smooth shading, texture and sensor noise."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(12)
    h, w = 3000, 4000
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = 60 + 120 * (0.7 * x / w + 0.3 * y / h) + 30 * np.sin(x / 17) * np.cos(y / 23)
    img = np.stack([base * (0.8 + 0.15 * c) for c in range(3)], axis=-1)
    img += rng.normal(0, 1, img.shape).astype(np.float32) * np.sqrt(0.5 + 0.02 * img) * 1.5
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(path, quality=92)


def main():
    ensure_venv()
    from PIL import Image

    ap = argparse.ArgumentParser()
    ap.add_argument("--trueshot", required=True)
    ap.add_argument("--largest", nargs=2, metavar=("N", "DIR"),
                    help="add the N largest JPEGs (by pixels) under DIR")
    ap.add_argument("--make-12mp", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--peer-max-mp", type=float, default=13.0,
                    help="skip the peers on larger photos (they are slow)")
    ap.add_argument("photos", nargs="*")
    args = ap.parse_args()

    photos = [os.path.abspath(p) for p in args.photos]
    args.trueshot = os.path.abspath(args.trueshot)
    if args.largest:
        n, root = int(args.largest[0]), args.largest[1]
        found = [os.path.abspath(f) for ext in ("jpg", "jpeg", "JPG", "JPEG")
                 for f in glob.glob(os.path.join(root, "**", f"*.{ext}"), recursive=True)]
        found.sort(key=lambda f: (-Image.open(f).size[0] * Image.open(f).size[1], f))
        photos += found[:n]
    tmp = tempfile.mkdtemp(prefix="trueshot-peers-")
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    if args.make_12mp:
        p = os.path.join(tmp, "generated_12mp.jpg")
        make_12mp(p)
        photos.append(p)

    # pyIFD's ELA writes tmpResave.jpg into the working directory: keep it
    # out of the repository.
    os.chdir(tmp)
    peers = peer_functions()
    cols = ["pillow", "trueshot", *PEERS]
    totals = {c: 0.0 for c in cols}
    peer_mp = 0.0
    total_mp = 0.0
    print(f"{'photo':<40} {'MP':>5} " + " ".join(f"{c:>9}" for c in cols) + "   (ms/MP)")
    for path in photos:
        with Image.open(path) as im:
            mp = im.size[0] * im.size[1] / 1e6

        def pillow():
            with Image.open(path) as im:
                im.convert("RGB").load()

        row = {"pillow": best_of(pillow, args.repeat)}
        cmd = [args.trueshot, "scan", "--threads", "1", "--format", "json", path]
        row["trueshot"] = best_of(
            lambda: subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL), args.repeat)
        run_peers = mp <= args.peer_max_mp
        for name in PEERS:
            fn = peers.get(name)
            if fn is None or not run_peers:
                row[name] = None
                continue
            try:
                row[name] = best_of(lambda: fn(path), 1)
            except Exception as e:  # noqa: BLE001 - a peer failing is a result too
                print(f"{name} failed on {path}: {e}", file=sys.stderr)
                row[name] = None
        total_mp += mp
        for c in ("pillow", "trueshot"):
            totals[c] += row[c]
        if run_peers and all(row[n] is not None for n in PEERS):
            peer_mp += mp
            for n in PEERS:
                totals[n] += row[n]
        cells = " ".join(f"{'-':>9}" if row[c] is None else f"{1e3 * row[c] / mp:>9.1f}"
                         for c in cols)
        print(f"{os.path.basename(path)[:40]:<40} {mp:>5.1f} {cells}")

    if total_mp == 0:
        return
    ms = {c: 1e3 * totals[c] / (peer_mp if c in PEERS else total_mp) for c in cols
          if (peer_mp if c in PEERS else total_mp) > 0}
    print("\nms per megapixel over all photos:")
    for c, v in ms.items():
        print(f"  {c:<10} {v:9.1f}")
    print(f"\ntrueshot / Pillow decode: {ms['trueshot'] / ms['pillow']:.2f}x")
    if peer_mp > 0:
        together = sum(ms[n] for n in PEERS)
        print(f"pyIFD NOI1+ELA+ADQ1+BLK+CFA1 together: {together:.1f} ms/MP, "
              f"{together / ms['trueshot']:.1f}x trueshot")
        fastest = min(PEERS, key=lambda n: ms[n])
        print(f"fastest peer method: {fastest} {ms[fastest]:.1f} ms/MP")


if __name__ == "__main__":
    main()
