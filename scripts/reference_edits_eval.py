#!/usr/bin/env python3
"""Measure the reference comparison on the corpus's own added-damage edits.

The `edits` set of a corpus (labels.csv) holds painted edits and re-saved
controls of real photos; its `source` column names the photo each was made
from, often a detail cut out of a larger photo at its own resolution. With
those source photos as the catalogue (linked into a temporary directory;
nothing is copied into the repository), every claim should be derived from
its own source, every edit `edited` and every control not. Also runs every
real photo of the corpus against the same catalogue: none may be derived
from another photo than its own.

usage: reference_edits_eval.py CORPUS_DIR TRUESHOT_BIN
"""
import atexit, collections, csv, json, os, re, shutil, subprocess, sys, tempfile
import numpy as np
from PIL import Image

corpus, cli = sys.argv[1], os.path.abspath(sys.argv[2])
rows = list(csv.DictReader(open(os.path.join(corpus, "labels.csv"))))
by_name = {os.path.basename(r["file"]): r["file"] for r in rows}
edits = [r for r in rows if r["set"] == "edits"]
refs = tempfile.mkdtemp(prefix="ref-edits-")
atexit.register(shutil.rmtree, refs, ignore_errors=True)
for src in sorted({r["source"] for r in edits}):
    if src in by_name:
        os.symlink(os.path.abspath(os.path.join(corpus, by_name[src])), os.path.join(refs, src))
heat = tempfile.mkdtemp(prefix="ref-edits-heat-")
atexit.register(shutil.rmtree, heat, ignore_errors=True)


def scan(files, heatmaps):
    args = [cli, "scan", "--format", "jsonl", "--reference-dir", refs]
    if heatmaps:
        args += ["--heatmap-dir", heat]
    out = subprocess.run(args + files, capture_output=True, text=True, cwd=corpus)
    return [json.loads(l) for l in out.stdout.splitlines() if l.startswith("{")]


label = {r["file"]: r for r in rows}
counts, f1 = collections.Counter(), collections.defaultdict(list)
for rec in scan([r["file"] for r in edits], True):
    r, ref = label[rec["path"]], rec.get("reference") or {}
    group = "control" if r["label"] == "real" else "edit"
    derived = bool(ref.get("derived"))
    counts[(group, "derived" if derived else "not derived", rec["verdict"])] += 1
    if derived and os.path.basename(ref.get("path") or "") != r["source"]:
        counts[(group, "derived from a wrong photo")] += 1
    if r["mask"] and rec.get("heatmap"):
        m = np.asarray(Image.open(os.path.join(corpus, r["mask"])).convert("L")) > 127
        p = np.asarray(Image.open(rec["heatmap"]).convert("L")) >= 128
        f1[r["kind"]].append(2 * (p & m).sum() / max(1, p.sum() + m.sum()))
for k in sorted(counts):
    print(" / ".join(k), counts[k])
print("localisation F1 per kind:", {k: round(float(np.mean(v)), 3) for k, v in sorted(f1.items())},
      "mean", round(float(np.mean([x for v in f1.values() for x in v])), 3))

other = 0
real = [r["file"] for r in rows if r["label"] == "real"]
for rec in scan(real, False):
    ref = rec.get("reference") or {}
    if ref.get("derived"):
        own = re.search(r"real_(\d{4})", rec["path"])
        theirs = re.search(r"real_(\d{4})", ref.get("path") or "")
        if not (own and theirs and own.group(1) == theirs.group(1)):
            other += 1
            print("derived from another photo:", rec["path"], ref.get("path"))
print(f"real photos derived from another photo than their own: {other}/{len(real)}")
