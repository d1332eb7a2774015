#!/usr/bin/env python3
"""Measure the reference comparison on real AI-tool edits.

The `ai_edits` set of a corpus (labels.csv) holds real "before" photos
(kind `edit_source`) and what AI tools made of them (kind `ai_edit`): the
fraud the reference comparison exists for, made with the tools fraudsters
use. The "before" photos are the catalogue (linked into a temporary
directory; nothing is copied into the repository). Each AI edit whose file
name pairs with a "before" photo (`NAME_after.*` with `NAME_before.*`)
should be derived from it (or from a file with the same pixels) and called
`edited`; each "before" photo should be derived from itself, unchanged.
Edits that replace everything around a kept subject are not derived as a
whole; the part they copied is reported (`reference.partial_copy`), and
the line says so. Edits without a "before" photo in the corpus are scanned
too: none may be derived or hold a copied part. Prints one line per file
and the counts.

usage: reference_ai_edits_eval.py CORPUS_DIR TRUESHOT_BIN
"""
import atexit, collections, csv, hashlib, json, os, shutil, subprocess, sys, tempfile
import numpy as np
from PIL import Image

corpus, cli = sys.argv[1], os.path.abspath(sys.argv[2])
rows = [r for r in csv.DictReader(open(os.path.join(corpus, "labels.csv"))) if r["set"] == "ai_edits"]
befores = [r for r in rows if r["kind"] == "edit_source"]
edits = [r for r in rows if r["kind"] == "ai_edit"]


def pixels_digest(path):
    return hashlib.sha256(np.asarray(Image.open(path).convert("RGB")).tobytes()).hexdigest()


digest = {os.path.basename(r["file"]): pixels_digest(os.path.join(corpus, r["file"])) for r in befores}
stem = {os.path.basename(r["file"]).rsplit(".", 1)[0].removesuffix("_before"): os.path.basename(r["file"]) for r in befores}


def expected(r):
    name = os.path.basename(r["file"]).rsplit(".", 1)[0]
    if r["kind"] == "edit_source":
        return os.path.basename(r["file"])
    return stem.get(name.removesuffix("_after")) if name.endswith("_after") else None


refs = tempfile.mkdtemp(prefix="ref-ai-edits-")
atexit.register(shutil.rmtree, refs, ignore_errors=True)
heat = tempfile.mkdtemp(prefix="ref-ai-edits-heat-")
atexit.register(shutil.rmtree, heat, ignore_errors=True)
for r in befores:
    os.symlink(os.path.abspath(os.path.join(corpus, r["file"])), os.path.join(refs, os.path.basename(r["file"])))
args = [cli, "scan", "--format", "jsonl", "--reference-dir", refs, "--heatmap-dir", heat]
out = subprocess.run(args + [r["file"] for r in edits + befores], capture_output=True, text=True, cwd=corpus)
records = {json.loads(l)["path"]: json.loads(l) for l in out.stdout.splitlines() if l.startswith("{")}

counts = collections.Counter()
for r in edits + befores:
    rec = records[r["file"]]
    ref = rec.get("reference") or {}
    want = expected(r)
    got = os.path.basename(ref.get("path") or "") if ref.get("derived") else None
    right = got is not None and want is not None and digest.get(got) == digest.get(want)
    group = "before" if r["kind"] == "edit_source" else ("edit with its before" if want else "edit without a before")
    partial = [f for f in rec.get("findings", []) if f["code"] == "reference.partial_copy"]
    outcome = "derived from its photo" if right else ("derived from another photo" if got else "not derived")
    if partial:
        # The copied part's listing is named in the finding.
        same = want is not None and os.path.basename(want) in partial[0]["message"]
        outcome += ", part copied from " + ("its photo" if same else "another photo")
    counts[(group, outcome, rec["verdict"])] += 1
    f1 = ""
    if r["kind"] == "ai_edit" and r["mask"] and rec.get("heatmap"):
        m = np.asarray(Image.open(os.path.join(corpus, r["mask"])).convert("L")) > 127
        p = np.asarray(Image.open(rec["heatmap"]).convert("L")) >= 128
        if m.shape == p.shape:
            f1 = "F1 %.2f" % (2 * (p & m).sum() / max(1, p.sum() + m.sum()))
    print("%-48s %-44s similarity %.2f changed %.3f %-12s %s" % (
        os.path.basename(r["file"])[:48], outcome, ref.get("similarity") or 0.0,
        ref.get("changed_fraction") or 0.0, rec["verdict"], f1))
for k in sorted(counts):
    print(" / ".join(k), counts[k])
