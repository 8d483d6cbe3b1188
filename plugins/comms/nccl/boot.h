/* boot.h — bootstrap of the NCCL comm: where this process sits (rank, world,
 * local rank) from the launcher's environment, and the exchange of the
 * ncclUniqueId from rank 0 to every other rank over one TCP connection each. */
#ifndef CV_NCCL_BOOT_H
#define CV_NCCL_BOOT_H

#include <cvnets/cvnets.h>

typedef struct nccl_place {
    int rank, world, local_rank;  /* local_rank -1: unknown (then rank % devices) */
    char addr[256];               /* MASTER_ADDR (default 127.0.0.1) */
    int port;                     /* MASTER_PORT (default 29500) */
    const char *rank_from;        /* which variable gave the rank, for messages */
} nccl_place;

/* fill p from RANK / WORLD_SIZE / LOCAL_RANK, OMPI_COMM_WORLD_*, PMI_*, SLURM_*,
 * falling back to args->rank / world_size; errors name the variable */
int nccl_place_from_env(const cv_create_args *args, nccl_place *p, cv_error *err);

/* rank 0 sends id (id_bytes) to world-1 peers; the others receive it; both give up
 * after timeout_s seconds with a message naming address and port */
int nccl_exchange_id(const cv_host *host, const nccl_place *p, void *id, size_t id_bytes, double timeout_s,
                     cv_error *err);

#endif
