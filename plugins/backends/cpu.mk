# plugins/backends/cpu.mk — build flags of the CPU backend (cvnets-backend-cpu.so):
# oneDNN (Debian libdnnl-dev, built on GNU OpenMP) and OpenMP for our own loops.
# -fno-trapping-math and -fno-math-errno change no value (IEEE results are the same;
# only FP exception flags and errno go unset) but let gcc if-convert and vectorise
# loops such as relu's gradient and sqrt.
CFLAGS_backend-cpu := -O3 -fopenmp -fno-trapping-math -fno-math-errno
LIBS_backend-cpu := -ldnnl -fopenmp
