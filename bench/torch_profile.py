#!/usr/bin/python3
"""bench/torch_profile.py MODEL SIZE BATCH [STEPS] - where PyTorch's training step
spends its time: torch.profiler's per-op table (self CPU time) for the peer's
models (bench/torch_train_step.py), 2 threads, after one warm-up step, to put
next to `step_timer --profile` in bench/README.md."""
import sys

import torch
import torch.nn as nn
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import torch_train_step as peer  # noqa: E402


def main():
    name, size, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    steps = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    torch.set_num_threads(2)
    torch.manual_seed(0)
    model, in_ch, ncls = peer.build(name, size)
    x = torch.randn(batch, in_ch, size, size)
    y = torch.randint(0, ncls, (batch,))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    crit = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        crit(model(x), y).backward()
        opt.step()

    step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=18))


if __name__ == "__main__":
    main()
