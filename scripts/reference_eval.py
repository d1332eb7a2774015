#!/usr/bin/env python3
"""Measure the reference comparison (issue 7) on real photos.

Takes real photos of a corpus (labels.csv, label=real, set=asfound) as
listings, makes laundered claims from them (crop to 80-100%, long side
384-1024 by downscale, JPEG quality 70-95), with and without painted damage
(a dark crack and a brown stain, mask known), plus laundered unrelated real
photos, runs `trueshot scan --reference-dir` and prints the figures.
Nothing is written into the repository; the corpus is only read.

usage: reference_eval.py CORPUS_DIR TRUESHOT_BIN [N_LISTINGS]
"""
import atexit, csv, json, os, random, shutil, subprocess, sys, tempfile
import numpy as np
from PIL import Image, ImageDraw

corpus, cli = sys.argv[1], sys.argv[2]
n = int(sys.argv[3]) if len(sys.argv) > 3 else 30
rng = random.Random(7)
rows = [r for r in csv.DictReader(open(os.path.join(corpus, "labels.csv")))
        if r["label"] == "real" and r["set"] == "asfound"]
rng.shuffle(rows)
listings, others = rows[:n], rows[n:n + n]
tmp = tempfile.mkdtemp(prefix="ref-eval-")
atexit.register(shutil.rmtree, tmp, ignore_errors=True)
ldir, cdir, hdir = (os.path.join(tmp, d) for d in ("listings", "claims", "heat"))
for d in (ldir, cdir, hdir):
    os.makedirs(d)

def launder(img):
    w, h = img.size
    f = rng.uniform(0.8, 1.0)
    cw, ch = int(w * f), int(h * f)
    x0, y0 = rng.randint(0, w - cw), rng.randint(0, h - ch)
    img = img.crop((x0, y0, x0 + cw, y0 + ch))
    long = rng.randint(384, 1024)
    if max(cw, ch) > long:
        s = long / max(cw, ch)
        img = img.resize((max(1, round(cw * s)), max(1, round(ch * s))), Image.LANCZOS)
    return img

def paint(img):
    w, h = img.size
    mask = Image.new("L", (w, h), 0)
    d, md = ImageDraw.Draw(img), ImageDraw.Draw(mask)
    pts = [(rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.9) * h)]
    for _ in range(5):
        x, y = pts[-1]
        pts.append((min(w - 1, max(0, x + rng.uniform(-0.08, 0.08) * w)),
                    min(h - 1, max(0, y + rng.uniform(-0.08, 0.08) * h))))
    width = max(3, w // 150)
    d.line(pts, fill=(25, 22, 20), width=width)
    md.line(pts, fill=255, width=width)
    cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h
    rx, ry = rng.uniform(0.04, 0.09) * w, rng.uniform(0.04, 0.09) * h
    stain = Image.new("RGB", (w, h), (120, 80, 30))
    smask = Image.new("L", (w, h), 0)
    ImageDraw.Draw(smask).ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=150)
    img = Image.composite(stain, img, smask)
    md.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=255)
    return img, mask

truth = {}
for i, r in enumerate(listings):
    img = Image.open(os.path.join(corpus, r["file"])).convert("RGB")
    img.save(os.path.join(ldir, f"l{i:03d}.png"))
    clean = launder(img)
    p = os.path.join(cdir, f"copy{i:03d}.jpg")
    clean.save(p, quality=rng.randint(70, 95))
    truth[p] = ("copy", None)
    edited, mask = paint(launder(img))
    p = os.path.join(cdir, f"edit{i:03d}.jpg")
    edited.save(p, quality=rng.randint(70, 95))
    mp = os.path.join(tmp, f"mask{i:03d}.png")
    mask.save(mp)
    truth[p] = ("edit", mp)
for i, r in enumerate(others):
    img = Image.open(os.path.join(corpus, r["file"])).convert("RGB")
    p = os.path.join(cdir, f"unrel{i:03d}.jpg")
    launder(img).save(p, quality=rng.randint(70, 95))
    truth[p] = ("unrelated", None)

out = subprocess.run([cli, "scan", "--format", "jsonl", "--heatmap-dir", hdir,
                      "--reference-dir", ldir, *sorted(truth)], capture_output=True, text=True)
recs = {json.loads(l)["path"]: json.loads(l) for l in out.stdout.splitlines() if l.strip()}
stats = {k: [] for k in ("copy", "edit", "unrelated")}
f1s = []
for p, (kind, mp) in truth.items():
    r = recs.get(p, {})
    ref = r.get("reference") or {}
    stats[kind].append((bool(ref.get("derived")), r.get("verdict")))
    if kind == "edit" and r.get("heatmap"):
        pred = np.array(Image.open(r["heatmap"])) >= 128
        t = np.array(Image.open(mp)) >= 128
        tp = (pred & t).sum(); f1s.append(2 * tp / max(1, pred.sum() + t.sum()))
derived = [d for k in ("copy", "edit") for d, _ in stats[k]]
print(f"listings {len(listings)}, claims {len(truth)}, errors {sum(1 for r in recs.values() if r.get('error'))}")
print(f"recall on derived claims: {sum(derived)}/{len(derived)} = {sum(derived)/max(1,len(derived)):.3f}")
print(f"unrelated called derived: {sum(d for d, _ in stats['unrelated'])}/{len(stats['unrelated'])}")
print(f"edited claims called edited: {sum(v == 'edited' for _, v in stats['edit'])}/{len(stats['edit'])}")
print(f"unedited copies called edited: {sum(v == 'edited' for _, v in stats['copy'])}/{len(stats['copy'])}")
print(f"localisation F1 (edited claims): mean {np.mean(f1s):.3f}, median {np.median(f1s):.3f}")
