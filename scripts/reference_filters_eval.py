#!/usr/bin/env python3
"""Measure the reference comparison on listing copies put through photo filters.

Takes 12 real photos of a corpus (labels.csv, label=real, set=asfound) as
listings (long side 1024, JPEG 92). Claims, each saved at JPEG 85:
- unedited copies through eight filters (greyscale, brighter x1.6 clipping,
  darker, gamma 0.6, contrast 1.6, saturation 1.8, warmer, sepia) and as
  is: none should be called `edited`;
- copies painted with a brown stain and a dark crack (mask known), then
  through six filters (greyscale, brighter x1.4, gamma 0.7, contrast 1.4,
  saturation 1.5, warmer) and as is: all should be `edited`, the heatmap
  (>= 128) placing the paint (F1).
Runs `trueshot scan --reference-dir` and prints the figures per filter.
Nothing is written into the repository; the corpus is only read.

usage: reference_filters_eval.py CORPUS_DIR TRUESHOT_BIN
"""
import atexit, collections, csv, json, os, shutil, subprocess, sys, tempfile
import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageOps

corpus, cli = sys.argv[1], os.path.abspath(sys.argv[2])
rows = [r for r in csv.DictReader(open(os.path.join(corpus, "labels.csv")))
        if r["label"] == "real" and r["set"] == "asfound"]
rows = rows[::max(1, len(rows) // 12)][:12]
tmp = tempfile.mkdtemp(prefix="ref-filters-")
atexit.register(shutil.rmtree, tmp, ignore_errors=True)
ldir, cdir, hdir = (os.path.join(tmp, d) for d in ("listings", "claims", "heat"))
for d in (ldir, cdir, hdir):
    os.makedirs(d)
rng = np.random.default_rng(7)


def pixels(a):
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def grey(im):
    return ImageOps.grayscale(im).convert("RGB")


def unedited_filters(im):
    a = np.asarray(im).astype(np.float32)
    g = np.asarray(grey(im)).astype(np.float32)
    return {
        "grey": grey(im),
        "brighter": pixels(a * 1.6),
        "darker": pixels(a * 0.6 - 20),
        "gamma": pixels(255 * (a / 255) ** 0.6),
        "contrast": ImageEnhance.Contrast(im).enhance(1.6),
        "saturated": ImageEnhance.Color(im).enhance(1.8),
        "warmer": pixels(a * np.array([1.15, 1.0, 0.8])),
        "sepia": pixels(g * np.array([1.07, 0.74, 0.43]) + np.array([30, 25, 10])),
        "none": im,
    }


def painted_filters(im):
    a = np.asarray(im).astype(np.float32)
    return {
        "grey": grey(im),
        "brighter": pixels(a * 1.4),
        "gamma": pixels(255 * (a / 255) ** 0.7),
        "contrast": ImageEnhance.Contrast(im).enhance(1.4),
        "saturated": ImageEnhance.Color(im).enhance(1.5),
        "warmer": pixels(a * np.array([1.1, 1.0, 0.85])),
        "none": im,
    }


def paint(im):
    """A brown translucent stain and a dark crack; returns (image, mask)."""
    w, h = im.size
    stain, crack = Image.new("L", im.size, 0), Image.new("L", im.size, 0)
    cx, cy = rng.uniform(0.25, 0.75) * w, rng.uniform(0.25, 0.75) * h
    r = rng.uniform(0.05, 0.09) * min(w, h)
    ImageDraw.Draw(stain).ellipse([cx - r, cy - 0.8 * r, cx + r, cy + 0.8 * r], fill=255)
    x, y = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h
    pts = [(x, y)]
    for _ in range(6):
        x += rng.uniform(-0.06, 0.06) * w
        y += rng.uniform(0.01, 0.05) * h
        pts.append((x, y))
    ImageDraw.Draw(crack).line(pts, fill=255, width=5)
    s = (np.asarray(stain) > 0)[..., None]
    c = (np.asarray(crack) > 0)[..., None]
    a = np.asarray(im).astype(np.float32)
    a = np.where(s, 0.4 * a + 0.6 * np.array([120, 80, 30]), a)
    a = np.where(c, np.array([28, 24, 20]), a)
    return pixels(a), (s | c)[..., 0]


masks = {}
for k, r in enumerate(rows):
    im = Image.open(os.path.join(corpus, r["file"])).convert("RGB")
    im.thumbnail((1024, 1024))
    im.save(os.path.join(ldir, f"l{k:02d}.jpg"), quality=92)
    for name, v in unedited_filters(im).items():
        v.save(os.path.join(cdir, f"u{k:02d}_{name}.jpg"), quality=85)
    painted, masks[k] = paint(im)
    for name, v in painted_filters(painted).items():
        v.save(os.path.join(cdir, f"p{k:02d}_{name}.jpg"), quality=85)

out = subprocess.run([cli, "scan", "--format", "jsonl", "--reference-dir", ldir,
                      "--heatmap-dir", hdir, cdir], capture_output=True, text=True)
verdicts, f1 = collections.defaultdict(collections.Counter), collections.defaultdict(list)
for line in out.stdout.splitlines():
    rec = json.loads(line)
    name = os.path.basename(rec["path"]).rsplit(".", 1)[0]
    group, k, filt = name[0], int(name[1:3]), name.split("_", 1)[1]
    derived = bool((rec.get("reference") or {}).get("derived"))
    verdicts[(group, filt)][("derived " if derived else "not derived ") + rec["verdict"]] += 1
    if group == "p" and rec.get("heatmap"):
        p = np.asarray(Image.open(rec["heatmap"]).convert("L")) >= 128
        m = masks[k]
        f1[filt].append(2 * (p & m).sum() / max(1, p.sum() + m.sum()))
print("unedited copies (none should be edited):")
for (group, filt), c in sorted(verdicts.items()):
    if group == "u":
        print(f"  {filt:10s} {dict(c)}")
print("painted copies (all should be edited; localisation F1):")
for (group, filt), c in sorted(verdicts.items()):
    if group == "p":
        print(f"  {filt:10s} F1 {np.mean(f1[filt]):.3f} {dict(c)}")
