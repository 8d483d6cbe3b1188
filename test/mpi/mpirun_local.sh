#!/usr/bin/env bash
# test/mpi/mpirun_local.sh NP COMMAND… — runs COMMAND as NP MPI ranks on this
# machine with the settings that make OpenMPI work in a container without a
# network or ssh, as root (the same ones the CI tests use):
#   test/mpi/mpirun_local.sh 2 build/bin/cvnets train recipes/fashion_mnist.ini --set run.comm=mpi
# Extra mpirun flags go in MPIRUN_FLAGS (e.g. MPIRUN_FLAGS=--enable-recovery).
set -eu
if [ $# -lt 2 ]; then
  echo "usage: $0 NP COMMAND [ARGS...]" >&2
  exit 2
fi
np=$1; shift
command -v mpirun >/dev/null || { echo "$0: mpirun not found (apt-get install openmpi-bin, or make deps)" >&2; exit 2; }
export OMPI_MCA_plm=isolated                        # launch locally, never through ssh
export OMPI_MCA_btl=self,vader                      # shared memory only: no network needed
export OMPI_MCA_btl_vader_single_copy_mechanism=none # CMA needs ptrace rights containers often lack
root_flags=()
if [ "$(id -u)" = 0 ]; then root_flags=(--allow-run-as-root); fi
# shellcheck disable=SC2086
exec mpirun "${root_flags[@]}" --oversubscribe ${MPIRUN_FLAGS:-} -np "$np" "$@"
