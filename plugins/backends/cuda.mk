# plugins/backends/cuda.mk — build flags of the CUDA backend (cvnets-backend-cuda.so,
# built only by `make CUDA=1`): CUDA runtime, cuDNN 9, cuBLAS from /usr/local/cuda.
# The .cu files are compiled by the Makefile's nvcc rule; plugin.c needs the headers.
# exports.map keeps libstdc++ template instantiations out of the dynamic symbol table.
CFLAGS_backend-cuda := -I/usr/local/cuda/include
LIBS_backend-cuda := -Wl,--version-script=plugins/backends/cuda/exports.map -L/usr/local/cuda/lib64 -Wl,-rpath,/usr/local/cuda/lib64 -lcudnn -lcublasLt -lcublas -lcudart -lstdc++
