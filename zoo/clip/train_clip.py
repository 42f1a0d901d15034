#!/usr/bin/python3
"""Train the zoo's tiny CLIP-style dual encoder on the synthetic stimuli and export it to ONNX.

Reads the PNG sets of `go run ./zoo/gen -out zoo/data` (train-aligned, train-stylised, test-aligned,
test-conflict), captions every image with sentences that name its shape and its texture, tokenises
them with CLIP's real tokenizer (the Go one, `go run ./zoo/clip/tokenize`, equal to openai/CLIP's
simple_tokenizer.py), trains image and text encoder contrastively, and writes
`<out>/image.onnx`, `<out>/text.onnx` and `<out>/clip.json` (the model card in machine-readable form).
Needs only Debian's python3-torch, python3-numpy, python3-pil and a Go toolchain.

    /usr/bin/python3 zoo/clip/train_clip.py --data zoo/data --out zoo/clip \
        --merges ../shared/data/clip/bpe_simple_vocab_16e6.txt.gz
"""

import argparse
import json
import math
import os
import subprocess
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from train import load_set  # noqa: E402  (the CNN zoo's PNG reader)

SOT, EOT, VOCAB, CONTEXT = 49406, 49407, 49408, 77

# Caption templates. N: a neutral caption of an aligned image (shape = texture = the class);
# S: names the shape; T: names the texture; B: names both.
NEUTRAL = ["a photo of a {c}.", "a {c}."]
SHAPE = ["a photo of a {s} shape.", "a {s} shape."]
TEXTURE = ["a photo of a {t} texture.", "a {t} texture."]
BOTH = ["a {s} shape with {t} texture.", "a {t} texture on a {s} shape."]

# The prompt variants the model card reports (and the Go test measures).
PROMPTS = {"neutral": "a photo of a {}.", "shape": "a photo of a {} shape.", "texture": "a photo of a {} texture."}


def captions(classes):
    """Every caption with the (kind, shape, texture) it asserts; -1 = not asserted."""
    out = []
    for s, cs in enumerate(classes):
        for tmpl in NEUTRAL:
            out.append((tmpl.format(c=cs), "N", s, s))
        for tmpl in SHAPE:
            out.append((tmpl.format(s=cs), "S", s, -1))
        for tmpl in TEXTURE:
            out.append((tmpl.format(t=cs), "T", -1, s))
        for t, ct in enumerate(classes):
            for tmpl in BOTH:
                out.append((tmpl.format(s=cs, t=ct), "B", s, t))
    return out


def tokenize(texts, merges, root):
    """CLIP token ids [len(texts), 77] from the Go tokenizer."""
    res = subprocess.run(["go", "run", "./zoo/clip/tokenize", "-merges", merges], cwd=root,
                         input="\n".join(texts) + "\n", capture_output=True, text=True, check=True)
    rows = [[int(v) for v in line.split()] for line in res.stdout.splitlines()]
    assert len(rows) == len(texts) and all(len(r) == CONTEXT for r in rows)
    return torch.tensor(rows, dtype=torch.int64)


class ImageEncoder(nn.Module):
    """The zoo CNN's trunk (four 3x3 conv blocks, global average pool) and a linear projection to D.
    Input RGB in [0, 1], [N, 3, H, W]; the normalisation is part of the model."""

    def __init__(self, dim, widths=(16, 32, 64, 128)):
        super().__init__()
        layers, cin = [], 3
        for i, w in enumerate(widths):
            layers += [nn.Conv2d(cin, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU()]
            if i < len(widths) - 1:
                layers.append(nn.MaxPool2d(2))
            cin = w
        self.features = nn.Sequential(*layers)
        self.proj = nn.Linear(cin, dim)

    def forward(self, x):
        x = self.features((x - 0.5) / 0.25)
        return self.proj(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class Block(nn.Module):
    """Pre-norm transformer block with causal self-attention, as CLIP's text tower."""

    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv, self.out = nn.Linear(width, 3 * width), nn.Linear(width, width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, x, mask):
        n, l, w = x.shape
        q, k, v = self.qkv(self.ln1(x)).reshape(n, l, 3, self.heads, w // self.heads).permute(2, 0, 3, 1, 4)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(w // self.heads) + mask
        x = x + self.out((att.softmax(-1) @ v).transpose(1, 2).reshape(n, l, w))
        return x + self.mlp(self.ln2(x))


class TextEncoder(nn.Module):
    """CLIP-style text tower: token ids [N, L] int64 (L ≤ 77) → [N, D]. A remap table sends CLIP's
    49,408 ids onto the few the captions use (0 = any other token); the features at the end token
    (the largest id, as in CLIP) are projected to D."""

    def __init__(self, used_ids, dim, width=64, layers=2, heads=4):
        super().__init__()
        remap = torch.zeros(VOCAB, dtype=torch.int64)
        remap[torch.tensor(sorted(used_ids))] = torch.arange(1, len(used_ids) + 1)
        self.register_buffer("remap", remap)
        self.embed = nn.Embedding(len(used_ids) + 1, width)
        self.pos = nn.Parameter(torch.randn(CONTEXT, width) * 0.01)
        self.blocks = nn.ModuleList(Block(width, heads) for _ in range(layers))
        self.ln = nn.LayerNorm(width)
        self.proj = nn.Linear(width, dim, bias=False)
        self.register_buffer("mask", torch.full((CONTEXT, CONTEXT), float("-inf")).triu(1))

    def forward(self, text):
        l = text.shape[1]
        x = self.embed(self.remap[text]) + self.pos[:l]
        mask = self.mask[:l, :l]
        for b in self.blocks:
            x = b(x, mask)
        x = self.ln(x)
        eot = text.argmax(dim=-1)
        return self.proj(x[torch.arange(x.shape[0]), eot])


def unit(x):
    return x / x.norm(dim=-1, keepdim=True)


def truth(img_shape, img_tex, cap_kind, cap_shape, cap_tex):
    """[images, captions] 1 where the caption is true of the image."""
    s, t = img_shape[:, None], img_tex[:, None]
    ok_s = (cap_shape[None] < 0) | (cap_shape[None] == s)
    ok_t = (cap_tex[None] < 0) | (cap_tex[None] == t)
    return (ok_s & ok_t).float()


def zero_shot(img_emb, txt, tokens_of, classes, template):
    cls = unit(txt(tokens_of([template.format(c) for c in classes])))
    return unit(img_emb) @ cls.T


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--merges", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--stylised-fraction", type=float, default=0.5,
                    help="fraction of each batch drawn from the stylised set")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    root = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    with open(os.path.join(args.data, "sets.json")) as f:
        sets = {s["name"]: s for s in json.load(f)}
    classes = sets["train-aligned"]["classes"]

    caps = captions(classes)
    eval_texts = [p.format(c) for p in PROMPTS.values() for c in classes]
    all_texts = [c[0] for c in caps] + eval_texts
    ids = tokenize(all_texts, args.merges, root)
    token_of = {t: ids[i] for i, t in enumerate(all_texts)}
    used = sorted({int(v) for v in ids[: len(caps)].flatten().tolist() if v != 0})
    cap_tokens = ids[: len(caps)]
    cap_kind = [c[1] for c in caps]
    cap_shape = torch.tensor([c[2] for c in caps])
    cap_tex = torch.tensor([c[3] for c in caps])
    short = int((cap_tokens != 0).sum(1).max())  # train on the used prefix: causal mask, same result

    def tokens_of(texts):
        return torch.stack([token_of[t] for t in texts])

    al_x, al_s, _ = load_set(os.path.join(args.data, "train-aligned"), classes)
    st_x, st_s, st_t = load_set(os.path.join(args.data, "train-stylised"), classes)
    al_x, st_x = al_x.float() / 255, st_x.float() / 255
    al_t = al_s.clone()
    # The captions of each kind that are true of an image with shape s and texture t.
    true_of = {(k, a, b): [i for i, c in enumerate(caps) if c[1] == k and c[2] in (-1, a) and c[3] in (-1, b)]
               for k in "NSTB" for a in range(len(classes)) for b in range(len(classes))}

    img = ImageEncoder(args.dim)
    txt = TextEncoder(used, args.dim)
    log_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
    params = list(img.parameters()) + list(txt.parameters()) + [log_scale]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.05)
    gen = torch.Generator().manual_seed(args.seed)
    n_st = int(round(args.batch * args.stylised_fraction))
    steps_per_epoch = (len(al_x) + len(st_x)) // args.batch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch)
    t0 = time.time()
    for epoch in range(args.epochs):
        img.train(), txt.train()
        tot = 0.0
        for _ in range(steps_per_epoch):
            ia = torch.randint(len(al_x), (args.batch - n_st,), generator=gen)
            ist = torch.randint(len(st_x), (n_st,), generator=gen)
            x = torch.cat([al_x[ia], st_x[ist]])
            s = torch.cat([al_s[ia], st_s[ist]])
            t = torch.cat([al_t[ia], st_t[ist]])
            aligned = torch.cat([torch.ones(len(ia), dtype=torch.bool), torch.zeros(n_st, dtype=torch.bool)])
            # One caption per image: aligned images get any kind, stylised ones S, T or B.
            u = torch.rand(len(x), 2, generator=gen).tolist()
            chosen = []
            for j in range(len(x)):
                kinds = "NSTB" if aligned[j] else "STB"
                true = true_of[(kinds[int(u[j][0] * len(kinds))], int(s[j]), int(t[j]))]
                chosen.append(true[int(u[j][1] * len(true))])
            uniq = sorted(set(chosen))
            m = truth(s, t, None, cap_shape[uniq], cap_tex[uniq])
            # A neutral caption is true only of an aligned image of its class.
            neutral = torch.tensor([cap_kind[c] == "N" for c in uniq])
            m = m * (~neutral[None] | aligned[:, None]).float()
            ie = unit(img(x))
            te = unit(txt(cap_tokens[uniq][:, :short]))
            logits = log_scale.exp().clamp(max=100) * ie @ te.T
            loss = -(F.log_softmax(logits, 1) * m / m.sum(1, keepdim=True)).sum(1).mean()
            mt = m.T
            loss = loss - (F.log_softmax(logits.T, 1) * mt / mt.sum(1, keepdim=True)).sum(1).mean()
            opt.zero_grad()
            (loss / 2).backward()
            opt.step()
            sched.step()
            tot += float(loss) / 2
        print(f"epoch {epoch + 1}: loss {tot / steps_per_epoch:.3f} scale {float(log_scale.exp()):.1f} "
              f"({time.time() - t0:.0f} s)", flush=True)
    train_s = time.time() - t0

    img.eval(), txt.eval()
    card = {"classes": classes, "dim": args.dim, "seed": args.seed, "epochs": args.epochs,
            "batch": args.batch, "lr": args.lr, "stylised_fraction": args.stylised_fraction,
            "logit_scale": round(float(log_scale.exp().clamp(max=100)), 4), "training_seconds": round(train_s),
            "prompts": PROMPTS, "test_aligned": sets["test-aligned"], "test_conflict": sets["test-conflict"],
            "metrics": {}}
    with torch.no_grad():
        ax, ay, _ = load_set(os.path.join(args.data, "test-aligned"), classes)
        cx, cs, ct = load_set(os.path.join(args.data, "test-conflict"), classes)
        ae, ce = img(ax.float() / 255), img(cx.float() / 255)
        for name, p in PROMPTS.items():
            acc = float((zero_shot(ae, txt, tokens_of, classes, p).argmax(1) == ay).float().mean())
            pred = zero_shot(ce, txt, tokens_of, classes, p).argmax(1)
            sh, tx = int((pred == cs).sum()), int((pred == ct).sum())
            card["metrics"][name] = {"aligned_accuracy": round(acc, 4), "shape": sh, "texture": tx,
                                     "conflict_images": len(cs), "shape_bias": round(sh / max(sh + tx, 1), 4)}
            print(name, card["metrics"][name], flush=True)

        os.makedirs(args.out, exist_ok=True)
        size = sets["test-aligned"]["size"]
        torch.onnx.export(img, torch.zeros(1, 3, size, size), os.path.join(args.out, "image.onnx"),
                          opset_version=13, input_names=["image"], output_names=["embedding"],
                          dynamic_axes={"image": {0: "batch"}, "embedding": {0: "batch"}},
                          do_constant_folding=True)
        torch.onnx.export(txt, tokens_of(eval_texts[:2]), os.path.join(args.out, "text.onnx"),
                          opset_version=13, input_names=["text"], output_names=["embedding"],
                          dynamic_axes={"text": {0: "batch"}, "embedding": {0: "batch"}},
                          do_constant_folding=True)
    with open(os.path.join(args.out, "clip.json"), "w") as f:
        json.dump(card, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
