#!/usr/bin/python3
"""bench/dnnl_layers.py VERBOSE.txt [PEAK_GFLOPS] — what every oneDNN convolution of a
run achieves, from the ONEDNN_VERBOSE=1 lines of that run (other lines are ignored):

    ONEDNN_VERBOSE=1 step_timer RECIPE --mode train --steps 2 --warmup 1 \\
        --set run.threads=1 --set run.precision=bf16 > v.txt
    bench/dnnl_layers.py v.txt 224       # 224: `bench/peak 1 bf16`

One row per (direction, shape, implementation): calls, the median time of one
call, and GFLOP/s = 2 x MACs / median time.  MACs count every tap of the kernel
(padding included), as `cvnets summary` does, so a 3x3 layer on a 4x4 map shows
more than it computes.  Winograd rows are direct-equivalent (effective) rates.
The last lines sum the median times by class (1x1, 3x3 stride 1, other) and give
the share of the peak when one is passed."""
import collections
import re
import statistics
import sys


def rows(path):
    for line in open(path, errors="replace"):
        f = line.strip().split(",")
        if len(f) < 10 or f[0] != "onednn_verbose" or f[1] != "exec" or f[3] != "convolution":
            continue
        dims = dict((k, int(v)) for k, v in re.findall(r"([a-z]+)(\d+)", f[-2]))
        yield f[5], f[4], f[-2], dims, float(f[-1])


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    peak = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
    times = collections.defaultdict(list)
    macs = {}
    for direction, impl, shape, d, ms in rows(sys.argv[1]):
        key = (direction, shape, impl)
        times[key].append(ms)
        macs[key] = d["mb"] * d["ic"] * d["oc"] * d["oh"] * d["ow"] * d["kh"] * d["kw"] // d.get("g", 1)
    if not times:
        sys.exit("no ONEDNN_VERBOSE convolution lines in %s (run with ONEDNN_VERBOSE=1)" % sys.argv[1])
    table, classes = [], collections.Counter()
    for key, ts in times.items():
        med = statistics.median(ts)
        d = dict((k, int(v)) for k, v in re.findall(r"([a-z]+)(\d+)", key[1]))
        cls = "1x1" if d["kh"] == 1 else "3x3 s1" if d["kh"] == 3 and d["sh"] == 1 else "other"
        classes[cls] += med * len(ts)
        table.append((med * len(ts), key, len(ts), med, 2 * macs[key] / med / 1e6))
    print("| direction | shape | implementation | calls | ms per call | GFLOP/s |" + (" % of peak |" if peak else ""))
    print("|---|---|---|---|---|---|" + ("---|" if peak else ""))
    for _, (direction, shape, impl), n, med, gf in sorted(table, reverse=True):
        tail = " %.0f %% |" % (100 * gf / peak) if peak else ""
        print("| %s | %s | %s | %d | %.2f | %.1f |%s" % (direction, shape, impl, n, med, gf, tail))
    total = sum(classes.values())
    print()
    for cls, ms in classes.most_common():
        print("%-7s %9.1f ms  %5.1f %%" % (cls, ms, 100 * ms / total))
    print("total   %9.1f ms (median call time x calls, all steps of the run)" % total)


if __name__ == "__main__":
    main()
