/* plugins/datasets/fashion_mnist.c — Fashion-MNIST (Zalando), 28x28 grey, 10
 * classes, read from the IDX files of Debian's dataset-fashion-mnist package. */
#define IDX_DS_NAME "fashion_mnist"
#define IDX_DS_ROOT "/usr/share/datasets/fashion-mnist"
#define IDX_DS_SUMMARY "Fashion-MNIST from IDX files (60000 train / 10000 t10k, 28x28x1, 10 classes)"
#define IDX_DS_HOWTO "install it with `apt-get install dataset-fashion-mnist` (or `make deps`), or set [dataset] root"
#define IDX_DS_CLASSES \
    { "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot" }
#include "idx_dataset.h"
