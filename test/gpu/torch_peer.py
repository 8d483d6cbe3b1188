#!/usr/bin/env python3
"""test/gpu/torch_peer.py - the PyTorch peer of test/gpu/run.sh on a CUDA machine.

Times training steps of torchvision models on random data, the way `cvnets bench`
does: forward + cross-entropy + backward + SGD(momentum 0.9, lr 0.01) step,
channels-last, fixed seed, random N(0,1) images and random labels.  Modes:
eager fp32, eager bf16 (autocast), torch.compile fp32.  Each configuration runs
`--warmup` untimed steps, then `--steps` steps timed together between two CUDA
synchronisations (img/s = batch * steps / seconds); peak memory is
torch.cuda.max_memory_allocated.  A `--deadline` in seconds skips configurations
that would start after it, so the caller's time limit holds; skipped ones are
reported as such.  One JSON object per configuration, one per line, on stdout.

    python3 torch_peer.py --models resnet50,mobilenet_v2 --size 224 --batch 64 --steps 50
"""
import argparse
import json
import sys
import time

import torch
import torch.nn as nn
import torchvision


def run(name, mode, size, batch, steps, warmup):
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(num_classes=1000).cuda().to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.randn(batch, 3, size, size, device="cuda").to(memory_format=torch.channels_last)
    y = torch.randint(0, 1000, (batch,), device="cuda")
    bf16 = mode == "eager_bf16"

    def step(m):
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
            loss = loss_fn(m(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    fn = model
    t_compile = 0.0
    if mode == "compile":
        t0 = time.perf_counter()
        fn = torch.compile(model)
    torch.cuda.reset_peak_memory_stats()
    for _ in range(warmup):
        step(fn)
    torch.cuda.synchronize()
    if mode == "compile":
        t_compile = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(steps):
        step(fn)
    torch.cuda.synchronize()
    secs = time.perf_counter() - t0
    return {"framework": "torch", "model": name, "mode": mode, "size": size, "batch": batch, "steps": steps,
            "img_per_s": batch * steps / secs, "peak_mib": torch.cuda.max_memory_allocated() / 2**20,
            "compile_s": round(t_compile, 1)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="resnet50,mobilenet_v2")
    ap.add_argument("--modes", default="eager,eager_bf16,compile")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--deadline", type=float, default=1e9, help="seconds from start after which nothing new starts")
    a = ap.parse_args()
    start = time.perf_counter()
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    for mode in a.modes.split(","):
        for name in a.models.split(","):
            if time.perf_counter() - start > a.deadline:
                print(json.dumps({"framework": "torch", "model": name, "mode": mode, "skipped": "deadline"}), flush=True)
                continue
            try:
                r = run(name, mode, a.size, a.batch, a.steps, a.warmup)
            except Exception as e:  # report and go on: one failing mode must not hide the others
                r = {"framework": "torch", "model": name, "mode": mode, "error": repr(e)[:300]}
            print(json.dumps(r), flush=True)
            torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
