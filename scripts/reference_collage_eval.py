#!/usr/bin/env python3
"""Measure the search for a listing shown inside a larger picture.

Takes real photos of a corpus (labels.csv, label=real, set=asfound) as
listings and builds claims in which one listing is shown smaller than the
claim's frame, painted on (a dark crack and a brown stain) or unchanged:
  - side: beside another real photo, on a textured page (a collage app);
  - grid: one cell of a 2x2 grid of four different real photos;
  - scene: pasted at 45-75% of its size into another real photo;
  - shot: a phone screenshot, the listing between rows of text and buttons
    (not flat margins).
Each at JPEG quality 80-92, a third of them mirrored. Controls: the same
layouts built from real photos that are not listings. Runs `trueshot scan
--reference-dir` and prints, per layout, how many painted claims are
`edited` with the listing named, how many unchanged ones are named inside
the claim (`reference.embedded_copy`) and how many are derived or `edited`,
and how many controls are derived or `edited` (a collage of photos from
different cameras can be `edited` on its pixels alone). Nothing is written into the
repository; the corpus is only read.

usage: reference_collage_eval.py CORPUS_DIR TRUESHOT_BIN [N_LISTINGS]
"""
import atexit, collections, csv, json, os, random, shutil, subprocess, sys, tempfile
from PIL import Image, ImageDraw, ImageOps

corpus, cli = sys.argv[1], sys.argv[2]
n = int(sys.argv[3]) if len(sys.argv) > 3 else 20
rng = random.Random(11)
rows = [r for r in csv.DictReader(open(os.path.join(corpus, "labels.csv")))
        if r["label"] == "real" and r["set"] == "asfound"]
rng.shuffle(rows)
listings, others = rows[:n], rows[n:]
tmp = tempfile.mkdtemp(prefix="ref-collage-")
if not os.environ.get("KEEP"):
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
else:
    print("claims kept in", tmp)
ldir, cdir = os.path.join(tmp, "listings"), os.path.join(tmp, "claims")
os.makedirs(ldir)
os.makedirs(cdir)


def load(row, long=1024):
    img = Image.open(os.path.join(corpus, row["file"])).convert("RGB")
    s = long / max(img.size)
    if s < 1:
        img = img.resize((round(img.width * s), round(img.height * s)), Image.LANCZOS)
    return img


def paint(img):
    w, h = img.size
    d = ImageDraw.Draw(img)
    pts = [(rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h)]
    for _ in range(5):
        x, y = pts[-1]
        pts.append((min(w - 1, max(0, x + rng.uniform(-0.08, 0.08) * w)),
                    min(h - 1, max(0, y + rng.uniform(-0.08, 0.08) * h))))
    d.line(pts, fill=(25, 22, 20), width=max(3, w // 120))
    cx, cy = rng.uniform(0.25, 0.75) * w, rng.uniform(0.25, 0.75) * h
    rx, ry = rng.uniform(0.05, 0.09) * w, rng.uniform(0.05, 0.09) * h
    smask = Image.new("L", (w, h), 0)
    ImageDraw.Draw(smask).ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=150)
    return Image.composite(Image.new("RGB", (w, h), (120, 80, 30)), img, smask)


def page(w, h):
    """A light page with faint texture: no flat margin to cut at."""
    img = Image.new("RGB", (w, h), (236, 236, 232))
    d = ImageDraw.Draw(img)
    for _ in range(w * h // 400):
        x, y = rng.randrange(w), rng.randrange(h)
        v = rng.randint(205, 250)
        d.point((x, y), fill=(v, v, v - 4))
    return img


def fit(img, box_w, box_h):
    s = min(box_w / img.width, box_h / img.height)
    return img.resize((max(1, round(img.width * s)), max(1, round(img.height * s))), Image.LANCZOS)


def side(shown, other):
    w, h = 1600, 760
    c = page(w, h)
    a, b = fit(other, 760, 700), fit(shown, 760, 700)
    c.paste(a, (20, 30))
    c.paste(b, (820, 30))
    return c


def grid(shown, fillers):
    cw, ch = 640, 480
    c = page(2 * cw + 30, 2 * ch + 30)
    spot = rng.randrange(4)
    tiles = fillers[:3]
    tiles.insert(spot, shown)
    for k, t in enumerate(tiles):
        t = fit(t, cw, ch)
        c.paste(t, (10 + (k % 2) * (cw + 10), 10 + (k // 2) * (ch + 10)))
    return c


def scene(shown, other):
    c = fit(other, 1400, 1400).copy()
    f = rng.uniform(0.45, 0.75)
    t = fit(shown, int(c.width * f), int(c.height * f))
    c.paste(t, (rng.randrange(c.width - t.width + 1), rng.randrange(c.height - t.height + 1)))
    return c


def shot(shown, _other):
    w, h = 1080, 2340
    c = Image.new("RGB", (w, h), (255, 255, 255))
    d = ImageDraw.Draw(c)
    t = fit(shown, w, 1200)
    top = 260
    c.paste(t, ((w - t.width) // 2, top))
    for k in range(28):
        y = top + t.height + 40 + k * 36
        if y > h - 200:
            break
        d.text((40, y), f"Item {rng.randint(1000, 9999)}  price {rng.randint(9, 999)}.99  "
               "free returns, ships in 2 days", fill=(30, 30, 30))
    for k in range(4):
        d.rounded_rectangle((40 + k * 255, h - 160, 250 + k * 255, h - 60), 20,
                            fill=(250, 80 + 40 * k, 40))
    d.rectangle((0, 0, w, 180), fill=(245, 245, 245))
    d.text((40, 80), "My orders  >  Refund request", fill=(0, 0, 0))
    return c


layouts = {"side": side, "grid": grid, "scene": scene, "shot": shot}
others_img = [load(r) for r in others[:40]]
truth = {}
for i, r in enumerate(listings):
    img = load(r)
    img.save(os.path.join(ldir, f"l{i:03d}.png"))
    for name, make in layouts.items():
        fill = rng.sample(others_img, 3)
        arg = fill if name == "grid" else fill[0]
        mirrored = rng.random() < 1 / 3
        for kind, shown in (("painted", paint(img.copy())), ("unchanged", img)):
            s = ImageOps.mirror(shown) if mirrored else shown
            p = os.path.join(cdir, f"{name}_{kind}_{i:03d}.jpg")
            make(s, list(arg) if name == "grid" else arg).save(p, quality=rng.randint(80, 92))
            truth[p] = (name, kind, f"l{i:03d}.png")
        # A control: the same layout around a photo that is no listing.
        p = os.path.join(cdir, f"{name}_control_{i:03d}.jpg")
        stand_in = rng.choice(others_img)
        make(stand_in, list(arg) if name == "grid" else arg).save(p, quality=rng.randint(80, 92))
        truth[p] = (name, "control", None)

out = subprocess.run([cli, "scan", "--format", "jsonl", "--reference-dir", ldir, *sorted(truth)],
                     capture_output=True, text=True)
recs = {json.loads(l)["path"]: json.loads(l) for l in out.stdout.splitlines() if l.strip()}
count = collections.defaultdict(collections.Counter)
for p, (name, kind, source) in truth.items():
    r = recs.get(p, {})
    ref = r.get("reference") or {}
    named = os.path.basename(ref.get("path") or "") == source
    shown_in = any(f["code"] == "reference.embedded_copy" for f in r.get("findings", []))
    c = count[(name, kind)]
    c["n"] += 1
    c["edited"] += r.get("verdict") == "edited"
    c["edited_named"] += r.get("verdict") == "edited" and bool(ref.get("derived")) and named
    c["derived"] += bool(ref.get("derived"))
    c["shown_named"] += shown_in and named
    c["error"] += bool(r.get("error"))
print(f"listings {len(listings)}, claims {len(truth)}, "
      f"errors {sum(c['error'] for c in count.values())}")
print("| layout | painted: `edited`, listing named | unchanged: named inside | unchanged: derived / `edited` | controls: derived / `edited` |")
print("|---|---|---|---|---|")
for name in layouts:
    p, u, k = count[(name, "painted")], count[(name, "unchanged")], count[(name, "control")]
    print(f"| {name} | {p['edited_named']}/{p['n']} | {u['shown_named']}/{u['n']} | "
          f"{u['derived']} / {u['edited']} of {u['n']} | {k['derived']} / {k['edited']} of {k['n']} |")
