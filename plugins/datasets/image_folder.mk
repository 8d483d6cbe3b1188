LIBS_dataset-image_folder := -lstb
