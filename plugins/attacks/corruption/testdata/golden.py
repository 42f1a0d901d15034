"""Makes golden.json: statistics of the reference corruptions on the test photo.

Run OUTSIDE the repository with the reference package on the path (bethgelab/imagecorruptions at
commit c959e65, numpy, scipy, scikit-image, opencv, numba, Pillow):

    PYTHONPATH=/path/to/imagecorruptions /usr/bin/python3 golden.py > golden.json

The photo is the centre 224x224 crop of imagenet-sample's first image (n01440764_tench.JPEG).
Per corruption and severity it records, over 5 numpy seeds (20 for fog, frost, motion_blur, snow), the PSNR of the corrupted image
against the clean crop (min, max) and the mean of the corrupted image in [0,1] (min, max).
"""
import json
import sys

import numpy as np
from PIL import Image
from imagecorruptions import corrupt, get_corruption_names

photo = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data/imagenet-sample/n01440764_tench.JPEG"
im = np.array(Image.open(photo).convert("RGB"))
h, w = im.shape[:2]
top, left = (h - 224) // 2, (w - 224) // 2
x = np.ascontiguousarray(im[top:top + 224, left:left + 224])


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2) / 255.0 ** 2
    return 99.0 if mse == 0 else -10 * np.log10(mse)


out = {}
for name in get_corruption_names("all"):
    for sev in range(1, 6):
        ps, ms = [], []
        for seed in range(20 if name in ("fog", "frost", "motion_blur", "snow") else 5):
            np.random.seed(seed)
            y = corrupt(x, severity=sev, corruption_name=name)
            ps.append(psnr(y, x))
            ms.append(float(y.mean()) / 255)
        out[f"{name}/{sev}"] = {"psnr": [min(ps), max(ps)], "mean": [min(ms), max(ms)]}
json.dump(out, sys.stdout, indent=1, sort_keys=True)
