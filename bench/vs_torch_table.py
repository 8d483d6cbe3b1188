#!/usr/bin/python3
"""bench/vs_torch_table.py RAW.jsonl — the tables of bench/vs_torch.sh (markdown on stdout).

Throughput: per (workload, mode, side) the median over repeats of each process's
median img/s (min-max of those medians in brackets).  GFLOP/s = MACs per image
(`cvnets summary --json`) x 2 (x 3 for a training step) x img/s; the fraction is
of the median fp32 FMA peak measured by bench/peak during the same run.
img/CPU-s: images per process CPU-second (user + system, all threads) over
the timed steps, which other processes on the machine disturb much less than
wall time.  Memory (training step): cvnets' planned peak (activations + workspace) plus its
params/grads/optimizer state, cvnets' measured peak RSS, and the peer's peak RSS
with and without what importing torch alone takes."""
import json
import statistics
import sys


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def main():
    rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    macs = {r["workload"]: r["macs"] for r in rows if r["side"] == "summary"}
    peaks = [r["peak_fp32_gflops"] for r in rows if r["side"] == "peak"]
    peak = med(peaks)
    loads = sorted({r["loadavg"] for r in rows if "loadavg" in r})
    runs = {}
    for r in rows:
        if r["side"] in ("cvnets", "torch"):
            runs.setdefault((r["workload"], r["mode"], r["side"]), []).append(r)
    order = []
    for r in rows:
        k = (r.get("workload"), r.get("mode"))
        if r["side"] in ("cvnets", "torch") and k not in order:
            order.append(k)

    def ips(wl, mode, side):
        key = "img_s_med" if side == "torch" else f"{mode}_img_s_med"
        return [x[key] for x in runs.get((wl, mode, side), [])]

    def ipc(wl, mode, side):
        key = "img_per_cpu_s" if side == "torch" else f"{mode}_img_per_cpu_s"
        return [x[key] for x in runs.get((wl, mode, side), []) if x.get(key)]

    print("fp32 FMA peak: "
          f"median {peak:.1f} GFLOP/s over {len(peaks)} measurements "
          f"(min {min(peaks):.1f}, max {max(peaks):.1f})" if peaks else "no peak measured")
    print(f"load average during the run: {loads[0]} ... {loads[-1]}" if loads else "")
    print()
    print("| workload | mode | cvnets img/s | PyTorch img/s | cvnets/PyTorch | cvnets GFLOP/s (% peak) "
          "| PyTorch GFLOP/s (% peak) | cvnets img/CPU-s | PyTorch img/CPU-s | cvnets/PyTorch per CPU-s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for wl, mode in order:
        c, t = ips(wl, mode, "cvnets"), ips(wl, mode, "torch")
        mc, mt = med(c), med(t)
        flop = macs.get(wl, 0) * 2 * (3 if mode == "train" else 1)

        def cell(xs, m):
            return f"{m:.1f} ({min(xs):.1f}-{max(xs):.1f})" if xs else "-"

        def gf(m):
            if m != m:  # nan: no runs
                return "-"
            g = flop * m / 1e9
            return f"{g:.1f} ({100 * g / peak:.0f} %)" if peaks else f"{g:.1f}"

        ratio = f"{mc / mt:.2f}x" if c and t and mt > 0 else "-"
        cc, tc = ipc(wl, mode, "cvnets"), ipc(wl, mode, "torch")
        rc = f"{med(cc) / med(tc):.2f}x" if cc and tc else "-"
        print(f"| {wl} | {mode} | {cell(c, mc)} | {cell(t, mt)} | {ratio} | {gf(mc)} | {gf(mt)} "
              f"| {cell(cc, med(cc))} | {cell(tc, med(tc))} | {rc} |")
    print()
    print("| workload | mode | cvnets planned peak: activations + params/grads/state (MiB) | cvnets peak RSS (MiB) "
          "| PyTorch peak RSS (MiB) | PyTorch peak RSS - after import (MiB) |")
    print("|---|---|---|---|---|---|")
    mib = 1 << 20
    for wl, mode in order:
        c = runs.get((wl, mode, "cvnets"), [])
        t = runs.get((wl, mode, "torch"), [])
        if c:
            pk = c[0]["train_peak_bytes" if mode == "train" else "eval_peak_bytes"]
            pb = c[0]["param_bytes"]
            plan = f"{pk / mib:.0f} + {pb / mib:.0f} = {(pk + pb) / mib:.0f}"
            crss = f"{med([x['peak_rss_mib'] for x in c]):.0f}"
        else:
            plan = crss = "-"
        trss = f"{med([x['peak_rss_mib'] for x in t]):.0f}" if t else "-"
        tnet = f"{med([x['peak_rss_mib'] - x['rss_after_import_mib'] for x in t]):.0f}" if t else "-"
        print(f"| {wl} | {mode} | {plan} | {crss} | {trss} | {tnet} |")


if __name__ == "__main__":
    main()
