# plugins/comms/nccl.mk — build flags of the NCCL comm (cvnets-comm-nccl.so, built
# only by `make CUDA=1`): NCCL and the CUDA runtime from /usr/local/cuda.
CFLAGS_comm-nccl := -I/usr/local/cuda/include
LIBS_comm-nccl := -L/usr/local/cuda/lib64 -Wl,-rpath,/usr/local/cuda/lib64 -lnccl -lcudart
