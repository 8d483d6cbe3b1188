#!/usr/bin/python3
"""bench/fashion_mnist_torch.py - recipes/fashion_mnist.ini in PyTorch, for
bench/fashion_mnist_vs_torch.sh: the same network, augmentation, optimizer,
schedule, batch and epochs, on the same Fashion-MNIST files, float32, on CPU.

  - model: torchvision-layout ResNet-18 with basic blocks, CIFAR stem (3x3/1 conv,
    BN, ReLU, no max-pool), widths 64/128/256/512 x 0.25 = 16/32/64/128, option-B
    (1x1 conv + BN) downsample, global average pool, fc.  Init as cvnets / CVNets:
    conv kaiming-normal (fan out, relu), BN 1/0, fc weight N(0, 0.01), bias 0.
  - data: random crop 28 with 2 px zero padding, horizontal flip p=0.5, normalise
    (0.286, 0.353); test: normalise only.  Each epoch is a fresh permutation cut
    into full batches of 128; the last batch wraps around to the start (cvnets'
    samplers do that too), so 469 optimizer steps per epoch.
  - loss: cross-entropy with label smoothing 0.1.
  - optimizer: SGD, momentum 0.9, Nesterov, weight decay 5e-4 except on BN
    parameters and biases.
  - schedule (per iteration): linear warmup from 1e-7 to 0.2 over 200 iterations,
    then cosine to 0 at the last iteration.

Prints one JSON line per epoch and a final {"type": "summary", ...} line with
test top-1, wall time and training img/s.  Options: --epochs, --threads, --warmup,
--root, --seed, --limit-train N (first N training images, for quick checks).
"""
import argparse
import gzip
import json
import math
import os
import resource
import struct
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def read_idx(path):
    for p in (path + ".gz", path):
        if os.path.exists(p):
            with (gzip.open(p, "rb") if p.endswith(".gz") else open(p, "rb")) as f:
                data = f.read()
            break
    else:
        raise SystemExit(f"fashion_mnist_torch: {path}(.gz) not found; install dataset-fashion-mnist (make deps)")
    magic, = struct.unpack(">I", data[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8).reshape(dims)


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


class ResNet18Cifar(nn.Module):
    def __init__(self, in_ch=1, num_classes=10, widths=(16, 32, 64, 128)):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        cin, layers = widths[0], []
        for s, w in enumerate(widths):
            layers.append(nn.Sequential(Block(cin, w, 1 if s == 0 else 2), Block(w, w, 1)))
            cin = w
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.fc = nn.Linear(widths[-1], num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.fc.weight, 0, 0.01)
        nn.init.zeros_(self.fc.bias)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


MEAN, STD = 0.286, 0.353


def augment(xb, gen):
    """random crop 28 from the 2-px zero-padded image, then horizontal flip p=0.5"""
    n = xb.shape[0]
    padded = F.pad(xb, (2, 2, 2, 2))
    offs = torch.randint(0, 5, (n, 2), generator=gen)
    flips = torch.rand(n, generator=gen) < 0.5
    out = torch.empty_like(xb)
    for i in range(n):
        dy, dx = int(offs[i, 0]), int(offs[i, 1])
        crop = padded[i, :, dy:dy + 28, dx:dx + 28]
        out[i] = crop.flip(-1) if flips[i] else crop
    return out


def lr_at(it, total, warmup, init=1e-7, max_lr=0.2, min_lr=0.0):
    if it < warmup:
        return init + (max_lr - init) * it / warmup
    t = (it - warmup) / max(1, total - warmup)
    return min_lr + 0.5 * (max_lr - min_lr) * (1 + math.cos(math.pi * t))


def evaluate(model, x, y, batch=500):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, x.shape[0], batch):
            xb = (x[i:i + batch].float() / 255 - MEAN) / STD
            correct += int((model(xb).argmax(1) == y[i:i + batch]).sum())
    model.train()
    return 100.0 * correct / x.shape[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--root", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--limit-train", type=int, default=0)
    ap.add_argument("--warmup", type=int, default=200, help="warmup iterations (the recipe: 200)")
    a = ap.parse_args()
    t_start = time.perf_counter()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)
    xtr = read_idx(os.path.join(a.root, "train-images-idx3-ubyte")).unsqueeze(1)
    ytr = read_idx(os.path.join(a.root, "train-labels-idx1-ubyte")).long()
    xte = read_idx(os.path.join(a.root, "t10k-images-idx3-ubyte")).unsqueeze(1)
    yte = read_idx(os.path.join(a.root, "t10k-labels-idx1-ubyte")).long()
    if a.limit_train:
        xtr, ytr = xtr[:a.limit_train], ytr[:a.limit_train]
    n = xtr.shape[0]
    steps = (n + a.batch - 1) // a.batch
    total = steps * a.epochs

    model = ResNet18Cifar()
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim <= 1 else decay).append(p)  # BN weights/biases and fc bias
    opt = torch.optim.SGD([{"params": decay, "weight_decay": 5e-4}, {"params": no_decay, "weight_decay": 0.0}],
                          lr=0.2, momentum=0.9, nesterov=True)
    crit = nn.CrossEntropyLoss(label_smoothing=0.1)
    it, train_s, best = 0, 0.0, 0.0
    for epoch in range(1, a.epochs + 1):
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=gen)
        perm = torch.cat([perm, perm[:steps * a.batch - n]])  # the last batch wraps around
        loss_sum = 0.0
        for s in range(steps):
            idx = perm[s * a.batch:(s + 1) * a.batch]
            xb = (augment(xtr[idx], gen).float() / 255 - MEAN) / STD
            for g in opt.param_groups:
                g["lr"] = lr_at(it, total, a.warmup)
            opt.zero_grad(set_to_none=True)
            loss = crit(model(xb), ytr[idx])
            loss.backward()
            opt.step()
            loss_sum += loss.item()
            it += 1
        ep_s = time.perf_counter() - t0
        train_s += ep_s
        top1 = evaluate(model, xte, yte)
        best = max(best, top1)
        print(json.dumps({"type": "epoch", "epoch": epoch, "steps": steps, "train_loss": round(loss_sum / steps, 5),
                          "img_per_s": round(steps * a.batch / ep_s, 1), "epoch_s": round(ep_s, 2),
                          "val_top1": round(top1, 2), "time_s": round(time.perf_counter() - t_start, 2)}), flush=True)
    print(json.dumps({"type": "summary", "epochs": a.epochs, "iterations": it, "test_top1": round(top1, 2),
                      "best_top1": round(best, 2), "wall_s": round(time.perf_counter() - t_start, 2),
                      "train_s": round(train_s, 2), "train_img_per_s": round(it * a.batch / train_s, 1),
                      "params": sum(p.numel() for p in model.parameters()),
                      "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                      "threads": torch.get_num_threads(), "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
