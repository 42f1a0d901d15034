#!/usr/bin/python3
"""Make the draft-decode fixtures of stages/load from Pillow (Debian python3-pil 9.4 + libjpeg-turbo 2.1.5).

Run: /usr/bin/python3 make_draft_golden.py (any folder). It rewrites draft/* and draft.json.

Each case is a JPEG and PIL's reading of it after Image.draft("RGB", (side, side)) -- libjpeg's DCT-domain
reduction by 1/a, a the largest of 8, 4, 2, 1 with a <= min(w // side, h // side) -- then convert("RGB").
The cases cover every reduction, odd sizes (sides rounded up), 4:2:0, 4:2:2, 4:4:4, greyscale and CMYK.
"""
import json
import os
import random

from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
rng = random.Random(20261201)


def scene(w, h):
    """Gradients, saturated blocks and sparse noise: chroma edges and texture for the scaled IDCT."""
    im = Image.new("RGB", (w, h))
    px = []
    for y in range(h):
        for x in range(w):
            n = rng.randrange(256) if (x * 3 + y * 5) % 11 == 0 else None
            px.append((x * 255 // (w - 1), n if n is not None else y * 255 // (h - 1), (x * 7 + y * 13) % 256))
    im.putdata(px)
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255), (255, 0, 255), (20, 20, 20)]
    for i, c in enumerate(colours * 2):
        x0, y0 = rng.randrange(w - 12), rng.randrange(h - 12)
        for y in range(y0, min(h, y0 + 4 + i)):
            for x in range(x0, min(w, x0 + 6 + i)):
                im.putpixel((x, y), c)
    return im


def main():
    out = os.path.join(HERE, "draft")
    os.makedirs(out, exist_ok=True)
    src = scene(203, 141)
    files = {
        "ycc420": lambda p: src.save(p, "JPEG", subsampling=2, quality=90),
        "ycc422": lambda p: src.save(p, "JPEG", subsampling=1, quality=90),
        "ycc444_progressive": lambda p: src.save(p, "JPEG", subsampling=0, quality=90, progressive=True),
        "grey": lambda p: src.convert("L").save(p, "JPEG", quality=90),
        "cmyk": lambda p: src.convert("CMYK").save(p, "JPEG", quality=90),
    }
    cases = []
    for name, save in files.items():
        path = os.path.join(out, name + ".jpg")
        save(path)
        # min(203 // side, 141 // side): 70 -> 2 -> 1/2, 60 -> 2, 35 -> 4 -> 1/4, 17 -> 8 -> 1/8, 100 -> 1 -> 1/1
        for side in (100, 70, 35, 17):
            im = Image.open(path)
            im.draft("RGB", (side, side))
            want = "%s_draft%d.want.png" % (name, side)
            rgb = im.convert("RGB")
            rgb.save(os.path.join(out, want))
            cases.append(dict(jpeg="draft/%s.jpg" % name, side=side, want="draft/" + want, size=list(rgb.size)))
    with open(os.path.join(HERE, "draft.json"), "w") as f:
        json.dump(cases, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
