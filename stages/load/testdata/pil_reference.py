#!/usr/bin/python3
"""The reference pipeline the load stage must equal, run by its tests (Debian python3-pil 9.4).

Usage: pil_reference.py RESIZE CROP DRAFT CROPS_OUT FILE...
For each FILE, as torchvision's ImageFolder + Resize(RESIZE) + CenterCrop(CROP) do with PIL (written out
here without torchvision): Image.open, then (if DRAFT is 1) Image.draft("RGB", (RESIZE, RESIZE)),
convert("RGB"); shorter side -> RESIZE, longer -> int(RESIZE * long / short), resize(BILINEAR); crop at
top = int(round((h - CROP) / 2.0)), left likewise. Prints one line per file:
    <decoded width> <decoded height> <sha256 of the decoded RGB bytes> <sha256 of the crop's RGB bytes>
and appends each crop's RGB bytes (CROP*CROP*3, row-major) to CROPS_OUT.
"""
import hashlib
import sys

from PIL import Image


def main():
    resize, crop, draft, crops_out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4]
    with open(crops_out, "wb") as out:
        for path in sys.argv[5:]:
            im = Image.open(path)
            if draft:
                im.draft("RGB", (resize, resize))
            im = im.convert("RGB")
            dec = hashlib.sha256(im.tobytes()).hexdigest()
            w, h = im.size
            if w <= h:
                nw, nh = resize, int(resize * h / w)
            else:
                nw, nh = int(resize * w / h), resize
            r = im.resize((nw, nh), Image.BILINEAR) if (nw, nh) != (w, h) else im
            top, left = int(round((nh - crop) / 2.0)), int(round((nw - crop) / 2.0))
            c = r.crop((left, top, left + crop, top + crop)).tobytes()
            out.write(c)
            print(w, h, dec, hashlib.sha256(c).hexdigest())


if __name__ == "__main__":
    main()
