#!/usr/bin/env python3
"""Issue 9 acceptance run: hundreds of mutated and truncated copies of real
files plus decompression bombs, all in ONE `trueshot scan` call, measuring
wall time and peak memory (GNU time). Not part of CI: it reads a corpus.

usage: scripts/hostile-scan.py CORPUS_DIR TRUESHOT_BINARY [N_FILES]
"""
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bombs():
    ihdr = lambda w, h: png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    idat = png_chunk(b"IDAT", zlib.compress(b"\0" * 4096))
    yield "bomb_png_60000.png", b"\x89PNG\r\n\x1a\n" + ihdr(60000, 60000) + idat + png_chunk(b"IEND", b"")
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, 65500, 65500, 3) + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    yield "bomb_jpeg_65500.jpg", b"\xff\xd8" + sof + b"\xff\xda\x00\x0c\x03\x01\x00\x02\x11\x03\x11\x00\x3f\x00" + b"\x00" * 1000 + b"\xff\xd9"
    # 4096 APP1 XMP segments of 64 KiB: oversized metadata.
    xmp = b"\xff\xe1" + struct.pack(">H", 65535) + b"http://ns.adobe.com/xap/1.0/\0" + b"<x:" * ((65533 - 29) // 3) + b"<x"[: (65533 - 29) % 3]
    yield "huge_xmp.jpg", b"\xff\xd8" + xmp * 4096 + b"\xff\xd9"
    # Deeply nested XMP in one PNG iTXt chunk.
    nested = b"<a>" * 200000 + b"x" + b"</a>" * 200000
    itxt = png_chunk(b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0" + nested)
    yield "nested_xmp.png", b"\x89PNG\r\n\x1a\n" + ihdr(1, 1) + itxt + png_chunk(b"IDAT", zlib.compress(b"\0\0\0\0")) + png_chunk(b"IEND", b"")


def main():
    corpus, binary = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 300
    rng = random.Random(9)
    sources = []
    for root, _, names in os.walk(corpus):
        sources += [os.path.join(root, f) for f in names if f.lower().endswith((".jpg", ".jpeg", ".png", ".webp"))]
    sources.sort()
    out = tempfile.mkdtemp(prefix="hostile-")
    paths = []
    for i in range(n):
        data = bytearray(open(rng.choice(sources), "rb").read())
        if i % 2:
            data = data[: rng.randrange(1, len(data))]
        else:
            for _ in range(rng.randrange(1, 40)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        ext = "jpg" if data[:2] == b"\xff\xd8" else "png"
        p = os.path.join(out, f"mutant_{i:04d}.{ext}")
        open(p, "wb").write(data)
        paths.append(p)
    for name, data in bombs():
        p = os.path.join(out, name)
        open(p, "wb").write(data)
        paths.append(p)
    cmd = ["/usr/bin/time", "-v", binary, "scan", "--format", "jsonl", *paths]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    records = [json.loads(l) for l in proc.stdout.splitlines() if l.startswith("{")]
    if proc.returncode == 0 and len(records) == len(paths):
        shutil.rmtree(out, ignore_errors=True)
    else:
        print(f"inputs kept in {out}", file=sys.stderr)
    errors = sum(1 for r in records if r.get("error"))
    stats = {l.split(":")[0].strip(): l.split(":", 1)[1].strip() for l in proc.stderr.splitlines() if ":" in l}
    print(json.dumps({
        "inputs": len(paths), "records": len(records), "error_records": errors, "exit": proc.returncode,
        "wall": stats.get("Elapsed (wall clock) time (h"), "max_rss_kb": stats.get("Maximum resident set size (kbytes)"),
        "bombs": {r["path"].split("/")[-1]: (r.get("error") or {}).get("code") for r in records if "bomb" in r["path"] or "xmp" in r["path"]},
    }, indent=1))


if __name__ == "__main__":
    main()
