LIBS_dataset-fashion_mnist := -lz
