# plugins/backends/cpu.mk — build flags of the CPU backend (cvnets-backend-cpu.so):
# oneDNN (Debian libdnnl-dev, built on GNU OpenMP) and OpenMP for our own loops.
CFLAGS_backend-cpu := -O3 -fopenmp
LIBS_backend-cpu := -ldnnl -fopenmp
