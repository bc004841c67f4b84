#!/usr/bin/env python3
"""make-corpus.py - writes the fuzzers' seed corpora into fuzz/corpus/NAME/.

Python standard library only (zlib, gzip, struct), and deterministic: the
gzip files carry no time stamp, so running it again reproduces the committed
seeds byte for byte (`git status` stays clean). Each seed is small: valid
files of every shape a parser accepts, plus the edge cases just outside.

    python3 fuzz/make-corpus.py            # rewrites fuzz/corpus/{idx,csv,image,jobcfg}
"""
import gzip
import json
import os
import shutil
import struct
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def gz(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


def digit(w, h):
    """A ring-shaped 'zero' on black: a plausible digit at any size."""
    px = []
    cx, cy = (w - 1) / 2, (h - 1) / 2
    rx, ry = max(w * 0.3, 0.5), max(h * 0.35, 0.5)
    for y in range(h):
        for x in range(w):
            d = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2
            px.append(255 if 0.55 <= d <= 1.0 else (96 if 0.45 <= d <= 1.15 else 0))
    return px


# ---- IDX ----

def idx(dims, data, type_byte=0x08, ndim=None):
    hdr = bytes([0, 0, type_byte, len(dims) if ndim is None else ndim])
    hdr += b"".join(struct.pack(">I", d) for d in dims)
    return hdr + bytes(data)


def idx_seeds():
    s = {}
    s["labels-1d.idx"] = idx([10], [3, 1, 4, 1, 5, 9, 2, 6, 5, 3])
    s["images-3d-2x4x4.idx"] = idx([2, 4, 4], [(i * 37) % 256 for i in range(32)])
    s["images-3d-1x28x28.idx"] = idx([1, 28, 28], digit(28, 28))
    s["matrix-2d.idx"] = idx([3, 2], [0, 255, 1, 254, 2, 253])
    s["tensor-4d.idx"] = idx([1, 2, 2, 2], range(8))
    s["one-byte.idx"] = idx([1], [7])
    s["labels-1d.idx.gz"] = gz(s["labels-1d.idx"])
    s["images-3d-2x4x4.idx.gz"] = gz(s["images-3d-2x4x4.idx"])
    s["tensor-4d.idx.gz"] = gz(s["tensor-4d.idx"])
    # Just outside: each is an error the reader names.
    s["bad-truncated-data.idx"] = s["labels-1d.idx"][:-1]
    s["bad-trailing-byte.idx"] = s["labels-1d.idx"] + b"\x00"
    s["bad-truncated-header.idx"] = idx([2, 4, 4], [])[:9]
    s["bad-type-float.idx"] = idx([2], b"\0" * 8, type_byte=0x0D)
    s["bad-ndim-5.idx"] = idx([1, 1, 1, 1, 1], [0])
    s["bad-zero-dim.idx"] = idx([0, 4], [])
    s["bad-huge-dims.idx"] = idx([0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF], [1, 2, 3])
    s["bad-truncated-gzip.idx.gz"] = gz(s["images-3d-2x4x4.idx"])[:-6]
    s["bad-gzip-trailing.idx.gz"] = gz(s["labels-1d.idx"] + b"\x01\x02")
    return s


# ---- CSV (the harness reads 1, 4 and 784 pixel columns) ----

def csv_seeds():
    s = {}
    s["plain-4.csv"] = b"3,0,128,255,7\n1,1,2,3,4\n9,255,255,255,255\n"
    s["header-4.csv"] = b"label,p0,p1,p2,p3\n0,10,20,30,40\n5,0,0,0,0\n"
    s["crlf-blanks-4.csv"] = b"label , a,b,c,d\r\n 2 , 7 ,\t8, 9 ,10\r\n4,0,0,0,1\r\n\r\n\n"
    s["bom-4.csv"] = b"\xef\xbb\xbf1,2,3,4,5\n"
    s["no-final-newline-4.csv"] = b"7,1,1,1,1\n8,2,2,2,2"
    s["labels-255-4.csv"] = b"255,1,2,3,4\n0,0,0,0,0\n"
    s["one-column-1.csv"] = b"1,200\n0,0\n1,255\n"
    row = lambda lbl, px: (str(lbl) + "," + ",".join(map(str, px)) + "\n").encode()
    s["mnist-784.csv"] = row(0, digit(28, 28)) + row(9, digit(28, 28)[::-1])
    s["plain-4.csv.gz"] = gz(s["plain-4.csv"])
    s["bad-empty-field.csv"] = b"1,2,,4,5\n"
    s["bad-extra-column.csv"] = b"1,2,3,4,5,6\n"
    s["bad-short-line.csv"] = b"1,2,3\n"
    s["bad-trailing-comma.csv"] = b"1,2,3,4,5,\n"
    s["bad-out-of-range.csv"] = b"1,2,3,4,256\n0,99999999999,0,0,0\n"
    s["bad-blank-middle.csv"] = b"1,2,3,4,5\n\n2,3,4,5,6\n"
    s["bad-not-number.csv"] = b"1,2,x,4,5\n"
    s["bad-header-only.csv"] = b"label,a,b,c,d\n"
    s["bad-nul.csv"] = b"1,2,3\x00,4,5\n"
    return s


# ---- PNG: every colour type and bit depth libpng reads ----

def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def pack_row(samples, depth):
    """Packs samples of `depth` bits (1, 2, 4, 8 or 16) into bytes."""
    if depth == 16:
        return b"".join(struct.pack(">H", v) for v in samples)
    if depth == 8:
        return bytes(samples)
    out, acc, n = bytearray(), 0, 0
    for v in samples:
        acc = (acc << depth) | v
        n += depth
        if n == 8:
            out.append(acc)
            acc, n = 0, 0
    if n:
        out.append(acc << (8 - n))
    return bytes(out)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
         (0, 1, 1, 2)]


def png(w, h, color, depth, pixels, extra=(), interlace=0, split_idat=False, filt=0):
    """pixels: rows of per-pixel sample tuples (already at `depth`)."""
    def scanlines(rows):
        raw = b""
        for r in rows:
            raw += bytes([filt]) + pack_row([v for p in r for v in p], depth)
        return raw

    if interlace:
        raw = b""
        for x0, y0, dx, dy in ADAM7:
            sub = [row[x0::dx] for row in pixels[y0::dy]]
            if sub and sub[0]:
                raw += scanlines(sub)
    else:
        raw = scanlines(pixels)
    idat = zlib.compress(raw, 9)
    ihdr = struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, interlace)
    body = chunk(b"IHDR", ihdr)
    for c in extra:
        body += c
    if split_idat:
        half = len(idat) // 2
        body += chunk(b"IDAT", idat[:half]) + chunk(b"IDAT", idat[half:])
    else:
        body += chunk(b"IDAT", idat)
    body += chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def grid(w, h, f):
    return [[f(x, y) for x in range(w)] for y in range(h)]


def image_seeds():
    s = {}
    w, h = 6, 5
    for depth in (1, 2, 4, 8, 16):
        top = (1 << depth) - 1
        s["png-gray-%d.png" % depth] = png(w, h, 0, depth,
                                          grid(w, h, lambda x, y: ((x * y * 7) % (top + 1),)))
    s["png-gray-trns.png"] = png(w, h, 0, 8, grid(w, h, lambda x, y: ((x + y) * 20,)),
                                 extra=[chunk(b"tRNS", struct.pack(">H", 0))])
    for depth in (8, 16):
        top = (1 << depth) - 1
        s["png-rgb-%d.png" % depth] = png(w, h, 2, depth, grid(
            w, h, lambda x, y: (x * top // w, y * top // h, (x ^ y) * top // 8)))
        s["png-graya-%d.png" % depth] = png(w, h, 4, depth, grid(
            w, h, lambda x, y: (top - x * top // w, y * top // h)))
        s["png-rgba-%d.png" % depth] = png(w, h, 6, depth, grid(
            w, h, lambda x, y: (x * top // w, 0, top, (x + y) * top // 10)))
    s["png-rgb-trns.png"] = png(w, h, 2, 8, grid(w, h, lambda x, y: (x * 40, y * 40, 0)),
                                extra=[chunk(b"tRNS", struct.pack(">HHH", 0, 0, 0))])
    for depth in (1, 2, 4, 8):
        n = min(1 << depth, 16)
        plte = chunk(b"PLTE", b"".join(bytes([i * 16, 255 - i * 16, i * 8]) for i in range(n)))
        s["png-palette-%d.png" % depth] = png(w, h, 3, depth,
                                             grid(w, h, lambda x, y: ((x + y) % n,)), extra=[plte])
    plte = chunk(b"PLTE", bytes([0, 0, 0, 255, 255, 255, 128, 128, 128]))
    s["png-palette-trns.png"] = png(w, h, 3, 8, grid(w, h, lambda x, y: ((x + y) % 3,)),
                                    extra=[plte, chunk(b"tRNS", bytes([0, 255, 128]))])
    s["png-interlaced.png"] = png(9, 9, 0, 8, grid(9, 9, lambda x, y: (x * 28 ^ y * 3,)),
                                  interlace=1)
    s["png-interlaced-rgba.png"] = png(5, 3, 6, 8, grid(5, 3, lambda x, y: (x * 50, y * 80,
                                                                           0, 200)), interlace=1)
    s["png-split-idat-paeth.png"] = png(8, 8, 0, 8, grid(8, 8, lambda x, y: (x * y * 3,)),
                                        split_idat=True, filt=4)
    s["png-ancillary.png"] = png(w, h, 0, 8, grid(w, h, lambda x, y: (x * 40,)), extra=[
        chunk(b"gAMA", struct.pack(">I", 45455)),
        chunk(b"tEXt", b"Comment\x00drawn by hand"),
        chunk(b"pHYs", struct.pack(">IIB", 2835, 2835, 1)),
        chunk(b"zTXt", b"Title\x00\x00" + zlib.compress(b"a digit")),
        chunk(b"prVt", b"private chunk")])
    s["png-1x1.png"] = png(1, 1, 0, 8, [[(255,)]])
    d = digit(28, 28)
    s["png-digit-28x28.png"] = png(28, 28, 0, 8, grid(28, 28, lambda x, y: (255 - d[y * 28 + x],)))
    wide = digit(60, 8)
    s["png-wide-60x8.png"] = png(60, 8, 0, 8, grid(60, 8, lambda x, y: (wide[y * 60 + x],)))
    s["bad-png-truncated.png"] = s["png-gray-8.png"][:-20]
    s["bad-png-no-iend.png"] = s["png-gray-8.png"][:-12]
    s["bad-png-ihdr-zero.png"] = png(0, 5, 0, 8, [])
    s["bad-png-too-big.png"] = png(100000, 100000, 0, 8, [])[:80]

    # PGM
    s["pgm-p2-comments.pgm"] = b"P2\n# a 4x3 gray map\n4 3\n# maxval next\n15\n" \
        b"0 3 6 9\n15 12 9 6 # a comment in the raster\n1 2 3 4\n"
    s["pgm-p2-maxval-1.pgm"] = b"P2 3 2 1 0 1 0 1 0 1\n"
    s["pgm-p5-8bit.pgm"] = b"P5\n5 4\n255\n" + bytes(range(0, 200, 10))
    s["pgm-p5-16bit.pgm"] = b"P5\n3 2\n65535\n" + b"".join(struct.pack(">H", v) for v in
                                                            (0, 1, 256, 32768, 65534, 65535))
    s["pgm-p5-maxval-1000.pgm"] = b"P5 2 2 1000\n" + b"".join(struct.pack(">H", v) for v in
                                                              (0, 500, 999, 1000))
    s["pgm-p5-comment-end.pgm"] = b"P5 2 2 255#comment\n" + bytes([1, 2, 3, 4])
    s["pgm-p5-digit-28x28.pgm"] = b"P5\n28 28\n255\n" + bytes(d)
    s["bad-pgm-truncated.pgm"] = b"P5\n4 4\n255\n" + bytes(10)
    s["bad-pgm-over-maxval.pgm"] = b"P2\n2 1\n7\n3 8\n"
    s["bad-pgm-trailing.pgm"] = b"P5 1 1 255\n\x00\x00"
    s["bad-pgm-stray.pgm"] = b"P2 2x2 255\n1 2 3 4\n"
    return s


# ---- job configuration JSON ----

def jobcfg_seeds():
    full = {
        "name": "digits, 2 layers", "dataset": "digits", "hidden": [128, 64],
        "activation": "tanh", "output": "softmax", "loss": "cross_entropy",
        "optimizer": "momentum", "learning_rate": 0.05, "momentum": 0.9, "l2": 0.0001,
        "batch_size": 32, "epochs": 3, "workers": 2, "seed": 42, "init": "xavier",
        "augment": "none",
    }
    docs = {
        "empty.json": {},
        "full.json": full,
        "adam.json": {"optimizer": "adam", "hidden": [256]},
        "sgd-no-hidden.json": {"optimizer": "sgd", "hidden": [], "learning_rate": 1},
        "sigmoid-mse.json": {"output": "sigmoid", "loss": "mse", "activation": "sigmoid"},
        "loss-only.json": {"loss": "mse"},
        "output-only.json": {"output": "sigmoid"},
        "init-he-uniform.json": {"init": "he", "augment": "shift", "dataset": "fashion-mnist"},
        "limits.json": {"seed": 9007199254740991, "hidden": [4096, 1, 1, 1, 1, 1, 1, 1],
                        "batch_size": 8192, "epochs": 1000, "momentum": 0.999, "l2": 1},
        "reals-as-ints.json": {"batch_size": 64.0, "epochs": 2.0, "hidden": [10.0]},
        "unicode-name.json": {"name": "n\u00famero \u2460 \U0001f600"},
        "bad-unknown-field.json": {"learnig_rate": 0.1},
        "bad-dash-field.json": {"batch-size": 10},
        "bad-types.json": {"hidden": "128", "epochs": "3"},
        "bad-range.json": {"learning_rate": 0, "workers": 0},
        "bad-softmax-mse.json": {"output": "softmax", "loss": "mse"},
        "bad-too-many-params.json": {"hidden": [4096, 4096, 4096, 4096]},
        "bad-not-object.json": [1, 2, 3],
        "bad-fraction.json": {"batch_size": 64.5, "hidden": [1.5]},
        "bad-seed.json": {"seed": -1},
        "bad-true.json": {"epochs": True},
        "bad-null.json": {"name": None},
        "bad-false-hidden.json": {"hidden": [False]},
        "bad-object-enum.json": {"activation": {"relu": 1}},
    }
    s = {k: json.dumps(v, ensure_ascii=False).encode() for k, v in docs.items()}
    s["bad-duplicate.json"] = b'{"epochs": 1, "epochs": 2}'
    s["bad-syntax.json"] = b'{"hidden": [1, 2,], }'
    s["bad-deep.json"] = b"[" * 64 + b"]" * 64
    s["escapes.json"] = b'{"name": "tab\\there \\u00e9 \\ud83d\\ude00", "dataset": "digits"}'
    # The key's 63-byte error field ends inside U+0351 (found by fuzzing).
    s["bad-long-key-utf8.json"] = b'{"' + b"x" * 62 + '\u0351y'.encode() + b'": 0}'
    s["bad-long-enum-utf8.json"] = b'{"activation": "' + b"r" * 39 + '\u00e9"}'.encode()
    s["big-numbers.json"] = b'{"epochs": 1e308, "seed": 18446744073709551616, "l2": 1e-400}'
    return s


def write(name, seeds):
    d = os.path.join(CORPUS, name)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    for fn, data in sorted(seeds.items()):
        assert len(data) <= 4096, (fn, len(data))
        with open(os.path.join(d, fn), "wb") as f:
            f.write(data)
    print("%-7s %3d seeds, %6d bytes" % (name, len(seeds), sum(map(len, seeds.values()))))


def main():
    write("idx", idx_seeds())
    write("csv", csv_seeds())
    write("image", image_seeds())
    write("jobcfg", jobcfg_seeds())
    return 0


if __name__ == "__main__":
    sys.exit(main())
