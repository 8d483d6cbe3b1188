# plugins/comms/mpi.mk — build flags of cvnets-comm-mpi.so: OpenMPI from Debian
# (libopenmpi-dev), as `mpicc --showme:compile` / `--showme:link` report them.
# -z nodelete: MPI cannot start again in a process once finalized, and OpenMPI
# leaves exit-time hooks in its libraries, so the plugin (and with it libmpi)
# stays mapped until the process ends even when the host unloads its plugins.
CFLAGS_comm-mpi := $(shell mpicc --showme:compile 2>/dev/null || echo -I/usr/lib/x86_64-linux-gnu/openmpi/include)
LIBS_comm-mpi := $(shell mpicc --showme:link 2>/dev/null || echo -lmpi) -Wl,-z,nodelete
