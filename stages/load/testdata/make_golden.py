#!/usr/bin/python3
"""Make the golden fixtures of stages/load from Pillow (Debian python3-pil 9.4 + libjpeg-turbo).

Run: /usr/bin/python3 make_golden.py (any folder). It rewrites golden/*.png, jpeg/* and golden.json.
The YCCK JPEG is written by ImageMagick's convert (Debian package imagemagick), as PIL cannot write one.

golden.json lists two kinds of resize cases, each with an input PNG and the expected 8-bit RGB result
(a PNG, so any tool can read it):
  - "pipeline": torchvision's eval transform on a PIL image, written out here without torchvision:
    img.convert("RGB"); Resize(resize) -> shorter side = resize, longer = int(resize * long / short),
    img.resize((w, h), Image.BILINEAR); CenterCrop -> top = int(round((h - ch) / 2.0)), left likewise.
    resize = 0 means no resize (crop only).
  - "raw": img.convert("RGB").resize((w, h), Image.BILINEAR) to an arbitrary size, no crop.
and decode cases: a JPEG and PIL's Image.open(...).convert("RGB") of it.
"""
import json
import os
import random
import struct
import subprocess
import tempfile
import zlib

from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
rng = random.Random(20240601)


def noise(w, h, mode="RGB"):
    im = Image.new(mode, (w, h))
    n = len(mode)
    im.putdata([tuple(rng.randrange(256) for _ in range(n)) if n > 1 else rng.randrange(256) for _ in range(w * h)])
    return im


def gradient(w, h):
    im = Image.new("RGB", (w, h))
    im.putdata([(x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), (x * 7 + y * 13) % 256)
                for y in range(h) for x in range(w)])
    return im


def pattern(w, h):
    """Gradient, checker and sparse noise: exercises rounding but compresses well."""
    im = Image.new("RGB", (w, h))
    px = []
    for y in range(h):
        for x in range(w):
            c = 255 if ((x // 3) + (y // 4)) % 2 else 0
            px.append(((x * 5) % 256, c, rng.randrange(256) if (x * y) % 7 == 0 else (y * 9) % 256))
    im.putdata(px)
    return im


def shapes(w, h):
    """Saturated colour blocks on a gradient: chroma edges for the JPEG upsampling."""
    im = gradient(w, h)
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255), (255, 0, 255), (20, 20, 20)]
    for i, c in enumerate(colours):
        x0, y0 = rng.randrange(w - 4), rng.randrange(h - 4)
        for y in range(y0, min(h, y0 + 3 + i)):
            for x in range(x0, min(w, x0 + 5 + i)):
                im.putpixel((x, y), c)
    return im


def png16(path, w, h):
    """A 16-bit RGB PNG written by hand (PIL cannot write one); returns PIL's reading of it."""
    raw = b""
    for y in range(h):
        raw += b"\x00" + b"".join(struct.pack(">HHH", rng.randrange(65536), (x * 3000 + y) % 65536, y * 2400)
                                  for x in range(w))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
    return Image.open(path)


def pipeline(img, resize, ch, cw):
    img = img.convert("RGB")
    w, h = img.size
    if resize:
        if w <= h:
            nw, nh = resize, int(resize * h / w)
        else:
            nw, nh = int(resize * w / h), resize
        if (nw, nh) != (w, h):
            img = img.resize((nw, nh), Image.BILINEAR)
        w, h = nw, nh
    top, left = int(round((h - ch) / 2.0)), int(round((w - cw) / 2.0))
    return img.crop((left, top, left + cw, top + ch))


def main():
    os.makedirs(os.path.join(HERE, "golden"), exist_ok=True)
    os.makedirs(os.path.join(HERE, "jpeg"), exist_ok=True)
    inputs = {
        "grad37x23": gradient(37, 23),
        "noise37x23": noise(37, 23),
        "noise13x9": noise(13, 9),
        "pattern56x37": pattern(56, 37),
        "pattern61x35": pattern(61, 35),
        "noise24x24": noise(24, 24),
        "grey30x41": noise(30, 41, "L"),
        "rgba19x21": noise(19, 21, "RGBA"),
    }
    pal = noise(33, 21).quantize(colors=37)
    pal.info["transparency"] = 3
    inputs["palette33x21"] = pal
    for name, im in inputs.items():
        im.save(os.path.join(HERE, "golden", name + ".png"), transparency=im.info.get("transparency"))
    inputs["rgb16_19x27"] = png16(os.path.join(HERE, "golden", "rgb16_19x27.png"), 19, 27)
    # Re-open what was written, so the reference starts from the same file bytes the Go test decodes.
    inputs = {k: Image.open(os.path.join(HERE, "golden", k + ".png")) for k in inputs}

    cases = []

    def add(kind, name, src, **p):
        im = inputs[src]
        if kind == "pipeline":
            out = pipeline(im, p["resize"], p["height"], p["width"])
        else:
            out = im.convert("RGB").resize((p["width"], p["height"]), Image.BILINEAR)
        out.save(os.path.join(HERE, "golden", name + ".want.png"))
        cases.append(dict(kind=kind, name=name, input="golden/%s.png" % src, want="golden/%s.want.png" % name, **p))

    add("pipeline", "grad_r16_c16", "grad37x23", resize=16, height=16, width=16)
    add("pipeline", "grad_r16_c13x15", "grad37x23", resize=16, height=13, width=15)  # top = round(1.5) = 2
    add("pipeline", "noise_r16_c16", "noise37x23", resize=16, height=16, width=16)
    add("pipeline", "noise_r11_c9x7", "noise37x23", resize=11, height=9, width=7)
    add("pipeline", "upscale_r20_c20", "noise13x9", resize=20, height=20, width=20)
    add("pipeline", "upscale_r20_c17x19", "noise13x9", resize=20, height=17, width=19)
    add("pipeline", "down3.7_r10_c9x10", "pattern56x37", resize=10, height=9, width=10)  # 37 / 10 = 3.7
    add("pipeline", "odd_r23_c21x23", "pattern61x35", resize=23, height=21, width=23)
    add("pipeline", "samesize_r24_c24", "noise24x24", resize=24, height=24, width=24)
    add("pipeline", "croponly_c10x20", "noise37x23", resize=0, height=10, width=20)
    add("pipeline", "grey_r17_c15x17", "grey30x41", resize=17, height=15, width=17)
    add("pipeline", "rgba_r20_c20", "rgba19x21", resize=20, height=20, width=20)
    add("pipeline", "palette_r12_c12", "palette33x21", resize=12, height=12, width=12)
    add("pipeline", "rgb16_r12_c11x12", "rgb16_19x27", resize=12, height=11, width=12)
    add("raw", "raw_h_only_10x23", "noise37x23", width=10, height=23)
    add("raw", "raw_v_only_37x9", "noise37x23", width=37, height=9)
    add("raw", "raw_up_53x31", "noise37x23", width=53, height=31)
    add("raw", "raw_mixed_50x7", "noise37x23", width=50, height=7)

    # JPEG decode references: PIL's RGB conversion of each file.
    decode = []
    src = shapes(33, 25)
    for name, kw in [
        ("ycc420", dict(subsampling=2, quality=90)),
        ("ycc422", dict(subsampling=1, quality=90)),
        ("ycc444", dict(subsampling=0, quality=90)),
        ("ycc420_progressive", dict(subsampling=2, quality=85, progressive=True)),
    ]:
        path = os.path.join(HERE, "jpeg", name + ".jpg")
        src.save(path, "JPEG", **kw)
        decode.append(name)
    src.convert("L").save(os.path.join(HERE, "jpeg", "grey.jpg"), "JPEG", quality=90)
    decode.append("grey")
    src.convert("CMYK").save(os.path.join(HERE, "jpeg", "cmyk.jpg"), "JPEG", quality=90)
    decode.append("cmyk")
    with tempfile.TemporaryDirectory() as tmp:
        png = os.path.join(tmp, "src.png")
        src.save(png)
        ycck = os.path.join(HERE, "jpeg", "ycck.jpg")
        subprocess.run(["/usr/bin/convert", png, "-colorspace", "CMYK", "-quality", "90", "-strip", ycck], check=True)
        if Image.open(ycck).info.get("adobe_transform") != 2:
            raise SystemExit("ImageMagick did not write a YCCK (Adobe transform 2) JPEG")
    decode.append("ycck")
    for name in decode:
        im = Image.open(os.path.join(HERE, "jpeg", name + ".jpg"))
        im.convert("RGB").save(os.path.join(HERE, "jpeg", name + ".want.png"))

    with open(os.path.join(HERE, "golden.json"), "w") as f:
        json.dump({"resize": cases, "jpeg": decode}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
