#!/usr/bin/python3
"""Train the vistudy model zoo: one small CNN, four training regimes, exported to ONNX.

Reads the PNG sets written by `go run ./zoo/gen -out zoo/data` and writes, per regime,
`<out>/<regime>.onnx` and the model card `<out>/<regime>.md`, plus `<out>/labels.txt` and the
machine-readable `<out>/zoo.json`. Needs only Debian's python3-torch, python3-numpy, python3-pil.

    /usr/bin/python3 zoo/train.py --data zoo/data --out zoo/models
"""

import argparse
import json
import math
import os
import re
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

REGIMES = ("standard", "stylised", "advtrain", "augment")


def regime_text(regime, args):
    """What a regime trains on and how, as quoted in the model cards."""
    return {
        "standard": "aligned set (shape and texture agree), no augmentation",
        "stylised": "texture randomisation: every shape with every texture (the stylised set), "
                    "label = shape",
        "advtrain": f"aligned set, L-inf PGD adversarial training (eps {args.eps:g}/255 ramped up "
                    f"linearly over the first {args.eps_ramp:g} epochs, {args.pgd_steps} steps of "
                    f"2.5*eps/{args.pgd_steps}, random start; attacks computed in train mode)",
        "augment": "aligned set, heavy SimCLR-style augmentation: random hue rotation, grey-scale, "
                   "brightness/contrast/saturation jitter, Gaussian blur, Gaussian noise, flips",
    }[regime]


CONFLICT_NAME = re.compile(r"^([a-z]+)\d+-([a-z]+)\d+\.png$")


def load_set(root, classes):
    """Loads every PNG below root as uint8 [N,3,H,W] with shape and texture labels (-1: none)."""
    index = {c: i for i, c in enumerate(classes)}
    images, shapes, textures = [], [], []
    for folder in sorted(os.listdir(root)):
        if folder not in index:
            continue
        for name in sorted(os.listdir(os.path.join(root, folder))):
            with Image.open(os.path.join(root, folder, name)) as im:
                images.append(np.asarray(im.convert("RGB"), dtype=np.uint8).transpose(2, 0, 1))
            m = CONFLICT_NAME.match(name)
            shapes.append(index[m.group(1)] if m else index[folder])
            textures.append(index[m.group(2)] if m else -1)
    return (torch.from_numpy(np.stack(images)), torch.tensor(shapes), torch.tensor(textures))


class Net(nn.Module):
    """Four 3x3 conv blocks (zero padding, BatchNorm, ReLU), global average pool, linear head.

    Input: RGB in [0, 1], [N, 3, H, W]; the normalisation (x - 0.5) / 0.25 is part of the model.
    """

    def __init__(self, classes, widths=(16, 32, 64, 128)):
        super().__init__()
        layers, cin = [], 3
        for i, w in enumerate(widths):
            layers += [nn.Conv2d(cin, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU()]
            if i < len(widths) - 1:
                layers.append(nn.MaxPool2d(2))
            cin = w
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(cin, classes)

    def forward(self, x):
        x = (x - 0.5) / 0.25
        x = self.features(x)
        return self.head(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def pgd(model, x, y, eps, steps, gen):
    """L-inf PGD with a random start, step 2.5*eps/steps; returns the adversarial images."""
    step = 2.5 * eps / steps
    delta = (torch.rand(x.shape, generator=gen) * 2 - 1) * eps
    for _ in range(steps):
        delta.requires_grad_(True)
        loss = F.cross_entropy(model((x + delta).clamp(0, 1)), y)
        (grad,) = torch.autograd.grad(loss, delta)
        delta = (delta.detach() + step * grad.sign()).clamp(-eps, eps)
    return (x + delta).clamp(0, 1).detach()


def gaussian_blur(x, sigma):
    """Blurs each image of x with its own Gaussian standard deviation (pixels), kernel 7x7."""
    n = x.shape[0]
    r = torch.arange(-3, 4, dtype=torch.float32)
    k = torch.exp(-r[None, :] ** 2 / (2 * sigma[:, None] ** 2))
    k = k / k.sum(1, keepdim=True)  # [N, 7]
    # Separable blur as a grouped convolution: one group per (image, channel).
    flat = x.reshape(1, n * 3, *x.shape[2:])
    kh = k.repeat_interleave(3, 0)[:, None, None, :]
    kv = k.repeat_interleave(3, 0)[:, None, :, None]
    flat = F.conv2d(F.pad(flat, (3, 3, 0, 0), mode="reflect"), kh, groups=n * 3)
    flat = F.conv2d(F.pad(flat, (0, 0, 3, 3), mode="reflect"), kv, groups=n * 3)
    return flat.reshape(x.shape)


def augment(x, gen):
    """SimCLR-style colour and blur augmentation, per image, drawn from gen."""
    n = x.shape[0]
    u = lambda *s: torch.rand(*s, generator=gen)
    # Hue rotation: rotate RGB about the grey axis by a random angle (p = 0.8).
    angle = u(n) * 2 * math.pi * (u(n) < 0.8)
    c, s = torch.cos(angle), torch.sin(angle)
    a = torch.ones(3) / math.sqrt(3)
    kx = torch.tensor([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    rot = (torch.eye(3) * c[:, None, None] + s[:, None, None] * kx
           + (1 - c)[:, None, None] * torch.outer(a, a))
    x = torch.einsum("nij,njhw->nihw", rot, x)
    grey = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2])[:, None]
    sat = 0.5 + u(n, 1, 1, 1)  # saturation factor in [0.5, 1.5]
    sat = torch.where(u(n, 1, 1, 1) < 0.2, torch.zeros_like(sat), sat)  # grey-scale, p = 0.2
    x = grey + sat * (x - grey)
    x = x * (0.6 + 0.8 * u(n, 1, 1, 1))  # brightness
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = mean + (0.6 + 0.8 * u(n, 1, 1, 1)) * (x - mean)  # contrast
    sigma = 0.1 + 1.9 * u(n)
    blurred = gaussian_blur(x, sigma)
    x = torch.where((u(n) < 0.5)[:, None, None, None], blurred, x)
    x = x + torch.randn(x.shape, generator=gen) * 0.1 * u(n, 1, 1, 1)
    flip = (u(n) < 0.5)[:, None, None, None]
    x = torch.where(flip, x.flip(3), x)
    return x.clamp(0, 1)


def train_set(regime):
    """The name of the set a regime trains on."""
    return "train-stylised" if regime == "stylised" else "train-aligned"


def train(regime, data, classes, args):
    """Trains one regime from seed args.seed and returns the model in eval mode."""
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    x_all, y_all, _ = data[train_set(regime)]
    model = Net(len(classes))
    steps_per_epoch = math.ceil(len(x_all) / args.batch)
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, nesterov=True,
                          weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, epochs=args.epochs,
                                                steps_per_epoch=steps_per_epoch)
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(x_all), generator=gen)
        total, correct, loss_sum = 0, 0, 0.0
        for b in range(steps_per_epoch):
            idx = perm[b * args.batch:(b + 1) * args.batch]
            x, y = x_all[idx].float() / 255, y_all[idx]
            if regime == "augment":
                x = augment(x, gen)
            elif regime == "advtrain":
                # Ramp eps up linearly over the first eps_ramp epochs: a full-strength attack
                # from the first step keeps the model at chance.
                step = epoch * steps_per_epoch + b + 1
                ramp = min(1.0, step / (args.eps_ramp * steps_per_epoch))
                x = pgd(model, x, y, ramp * args.eps / 255, args.pgd_steps, gen)
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += len(y)
            correct += (logits.argmax(1) == y).sum().item()
            loss_sum += loss.item() * len(y)
        print(f"  {regime} epoch {epoch + 1}/{args.epochs}: loss {loss_sum / total:.3f} "
              f"train acc {correct / total:.3f}", flush=True)
    return model.eval()


@torch.no_grad()
def predict(model, x, batch=200):
    return torch.cat([model(x[i:i + batch].float() / 255).argmax(1)
                      for i in range(0, len(x), batch)])


def evaluate(model, data):
    """Clean accuracy, cue-conflict decision fractions and single-cue accuracies."""
    x, y, _ = data["test-aligned"]
    r = {"clean_accuracy": (predict(model, x) == y).float().mean().item()}
    x, s, t = data["test-conflict"]
    pred = predict(model, x)
    n = len(pred)
    shape, texture = (pred == s).sum().item(), (pred == t).sum().item()
    r.update(conflict_n=n, shape_fraction=shape / n, texture_fraction=texture / n,
             other_fraction=(n - shape - texture) / n,
             shape_bias=shape / (shape + texture) if shape + texture else float("nan"))
    for name, key in (("test-shape-only", "shape_only_accuracy"),
                      ("test-texture-only", "texture_only_accuracy")):
        x, y, _ = data[name]
        r[key] = (predict(model, x) == y).float().mean().item()
    return r


def export(model, path, size):
    torch.onnx.export(model, torch.zeros(1, 3, size, size), path, opset_version=13,
                      input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
                      do_constant_folding=True)


def model_card(regime, card, classes):
    m = card["metrics"]
    lines = [
        f"# {regime}",
        "",
        f"One small CNN of the vistudy zoo (`zoo/train.py`), trained with the `{regime}` regime.",
        "",
        "| field | value |",
        "| --- | --- |",
        f"| regime | {regime}: {card['description']} |",
        f"| architecture | {card['architecture']} |",
        f"| parameters | {card['parameters']} |",
        f"| seed | {card['seed']} |",
        f"| epochs | {card['epochs']} (batch {card['batch']}, SGD Nesterov, OneCycle max lr "
        f"{card['lr']}, weight decay 5e-4) |",
        f"| training set | `{card['train_set']}` ({card['train_images']} images) |",
        f"| training time | {card['train_seconds']:.0f} s on {card['threads']} CPU threads |",
        f"| input | `image` float32 [N, 3, {card['size']}, {card['size']}], RGB in [0, 1]; "
        "normalisation (x - 0.5) / 0.25 is inside the model |",
        "| output | `logits` float32 [N, K], K = classes below |",
        f"| classes | {', '.join(classes)} (`labels.txt`, index order) |",
        f"| clean accuracy | {m['clean_accuracy']:.4f} on `test-aligned` "
        f"({card['test_aligned']['per_pair'] * len(classes)} images, seed "
        f"{card['test_aligned']['seed']}) |",
        f"| cue conflict ({m['conflict_n']} images, seed {card['test_conflict']['seed']}) | "
        f"shape {m['shape_fraction']:.4f}, texture {m['texture_fraction']:.4f}, "
        f"other {m['other_fraction']:.4f}; shape bias {m['shape_bias']:.4f} |",
        f"| shape-only accuracy | {m['shape_only_accuracy']:.4f} |",
        f"| texture-only accuracy | {m['texture_only_accuracy']:.4f} |",
        "",
    ]
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data", default="zoo/data")
    p.add_argument("--out", default="zoo/models")
    p.add_argument("--regimes", default=",".join(REGIMES))
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--eps", type=float, default=8, help="PGD epsilon in 1/255 units")
    p.add_argument("--pgd-steps", type=int, default=3)
    p.add_argument("--eps-ramp", type=float, default=5, help="epochs over which eps ramps up")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    with open(os.path.join(args.data, "sets.json")) as f:
        sets = {s["name"]: s for s in json.load(f)}
    classes = sets["test-aligned"]["classes"]
    size = sets["test-aligned"]["size"]
    data = {name: load_set(os.path.join(args.data, name), classes) for name in sets}
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "labels.txt"), "w") as f:
        f.write("".join(c + "\n" for c in classes))

    zoo_path = os.path.join(args.out, "zoo.json")
    zoo = {}
    if os.path.exists(zoo_path):
        with open(zoo_path) as f:
            zoo = json.load(f)["models"]
    for regime in args.regimes.split(","):
        start = time.time()
        model = train(regime, data, classes, args)
        seconds = time.time() - start
        metrics = evaluate(model, data)
        path = os.path.join(args.out, regime + ".onnx")
        export(model, path, size)
        card = {
            "regime": regime, "description": regime_text(regime, args), "seed": args.seed,
            "epochs": args.epochs, "batch": args.batch, "lr": args.lr, "threads": args.threads,
            "architecture": "conv3x3(16)-BN-ReLU-maxpool, conv3x3(32)-BN-ReLU-maxpool, "
                            "conv3x3(64)-BN-ReLU-maxpool, conv3x3(128)-BN-ReLU, "
                            "global average pool, linear; zero padding",
            "parameters": sum(p.numel() for p in model.parameters()),
            "size": size, "train_set": train_set(regime),
            "train_images": len(data[train_set(regime)][0]),
            "train_seconds": seconds, "onnx_bytes": os.path.getsize(path),
            "test_aligned": sets["test-aligned"], "test_conflict": sets["test-conflict"],
            "metrics": metrics,
        }
        if regime == "advtrain":
            card.update(eps=args.eps / 255, pgd_steps=args.pgd_steps, eps_ramp_epochs=args.eps_ramp)
        zoo[regime] = card
        with open(os.path.join(args.out, regime + ".md"), "w") as f:
            f.write(model_card(regime, card, classes))
        print(f"{regime}: {json.dumps(metrics)} ({seconds:.0f} s)", flush=True)
    with open(zoo_path, "w") as f:
        json.dump({"classes": classes, "models": zoo}, f, indent=2, sort_keys=True)
        f.write("\n")
    print("| model | clean acc | shape | texture | other | shape bias | shape-only acc | "
          "texture-only acc |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for regime in REGIMES:
        if regime in zoo:
            m = zoo[regime]["metrics"]
            print(f"| {regime} | {m['clean_accuracy']:.3f} | {m['shape_fraction']:.3f} | "
                  f"{m['texture_fraction']:.3f} | {m['other_fraction']:.3f} | "
                  f"{m['shape_bias']:.3f} | {m['shape_only_accuracy']:.3f} | "
                  f"{m['texture_only_accuracy']:.3f} |")


if __name__ == "__main__":
    main()
