#!/usr/bin/python3
"""bench/fmnist_subset.py SRC DST N_TRAIN N_TEST — writes the first N_TRAIN
training and N_TEST test samples of the Fashion-MNIST IDX files in SRC (.gz or
plain) as plain IDX files in DST, so bench/samplers.sh can train on real
Fashion-MNIST images in a few minutes on 2 cores (the dataset plugin has no
subset option; it takes any folder with the four files)."""
import gzip
import os
import struct
import sys


def read(path):
    for p in (path + ".gz", path):
        if os.path.exists(p):
            with (gzip.open(p, "rb") if p.endswith(".gz") else open(p, "rb")) as f:
                return f.read()
    raise SystemExit(f"fmnist_subset: {path}(.gz) not found; install dataset-fashion-mnist (make deps)")


def cut(data, n):
    magic, = struct.unpack(">I", data[:4])
    ndim = magic & 0xFF
    dims = list(struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim]))
    n = min(n, dims[0])
    per = 1
    for d in dims[1:]:
        per *= d
    head = 4 + 4 * ndim
    dims[0] = n
    return struct.pack(">I", magic) + struct.pack(">" + "I" * ndim, *dims) + data[head:head + n * per]


def main():
    src, dst, ntr, nte = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    os.makedirs(dst, exist_ok=True)
    for stem, n in (("train-images-idx3-ubyte", ntr), ("train-labels-idx1-ubyte", ntr),
                    ("t10k-images-idx3-ubyte", nte), ("t10k-labels-idx1-ubyte", nte)):
        with open(os.path.join(dst, stem), "wb") as f:
            f.write(cut(read(os.path.join(src, stem)), n))


if __name__ == "__main__":
    main()
