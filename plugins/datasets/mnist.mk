LIBS_dataset-mnist := -lz
