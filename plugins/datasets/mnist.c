/* plugins/datasets/mnist.c — MNIST handwritten digits, 28x28 grey, 10 classes,
 * read from the four IDX files (gzip or plain) under [dataset] root. */
#define IDX_DS_NAME "mnist"
#define IDX_DS_ROOT "/usr/share/datasets/mnist"
#define IDX_DS_SUMMARY "MNIST digits from IDX files (train-* / t10k-*, 28x28x1, 10 classes)"
#define IDX_DS_HOWTO "put train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz (from the MNIST distribution) there, or set [dataset] root"
#define IDX_DS_CLASSES { "0", "1", "2", "3", "4", "5", "6", "7", "8", "9" }
#include "idx_dataset.h"
