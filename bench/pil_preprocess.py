#!/usr/bin/python3
"""PIL's side of bench/decode.sh: decode + Resize(256) + CenterCrop(224) images/s on one core.

Usage: pil_preprocess.py ROUNDS DRAFT FILE...   (DRAFT 1: Image.draft("RGB", (256, 256)) before convert)
Prints one line per round: "pil <images per wall second> <images per CPU second of this process>"; on a
busy machine the CPU figure is the one to compare.
The steps are torchvision's eval transform on a PIL image (ImageFolder's loader, Resize, CenterCrop)
written out without torchvision: Image.open, convert("RGB"), resize(BILINEAR), crop, then the pixels are
materialised as bytes (what ToTensor reads). One process, one thread, the files in the page cache.
"""
import sys
import time

from PIL import Image


def one(path, draft, resize=256, crop=224):
    im = Image.open(path)
    if draft:
        im.draft("RGB", (resize, resize))
    im = im.convert("RGB")
    w, h = im.size
    if w <= h:
        nw, nh = resize, int(resize * h / w)
    else:
        nw, nh = int(resize * w / h), resize
    if (nw, nh) != (w, h):
        im = im.resize((nw, nh), Image.BILINEAR)
    top, left = int(round((nh - crop) / 2.0)), int(round((nw - crop) / 2.0))
    return im.crop((left, top, left + crop, top + crop)).tobytes()


def main():
    rounds, draft, files = int(sys.argv[1]), sys.argv[2] == "1", sys.argv[3:]
    for p in files:  # warm the page cache
        with open(p, "rb") as f:
            f.read()
    for _ in range(rounds):
        t, c = time.perf_counter(), time.process_time()
        for p in files:
            one(p, draft)
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        print("pil %.2f %.2f" % (len(files) / wall, len(files) / cpu), flush=True)


if __name__ == "__main__":
    main()
