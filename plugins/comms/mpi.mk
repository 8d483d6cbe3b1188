# plugins/comms/mpi.mk — build flags of cvnets-comm-mpi.so: OpenMPI from Debian
# (libopenmpi-dev), as `mpicc --showme:compile` / `--showme:link` report them.
CFLAGS_comm-mpi := $(shell mpicc --showme:compile 2>/dev/null || echo -I/usr/lib/x86_64-linux-gnu/openmpi/include)
LIBS_comm-mpi := $(shell mpicc --showme:link 2>/dev/null || echo -lmpi)
