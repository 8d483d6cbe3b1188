/* boot.c — where this process sits and how the ncclUniqueId travels.
 *
 * Placement comes from the launcher: torchrun-style RANK / WORLD_SIZE /
 * LOCAL_RANK, OpenMPI's OMPI_COMM_WORLD_*, PMI_* (MPICH, Intel MPI) or Slurm's
 * SLURM_PROCID / SLURM_NTASKS / SLURM_LOCALID, so `mpirun`, `srun` and a plain
 * launcher all work without linking MPI.  The 128-byte ncclUniqueId goes from
 * rank 0 to the others over TCP: rank 0 listens on MASTER_PORT, every other rank
 * connects to MASTER_ADDR:MASTER_PORT (retrying while rank 0 starts up) and
 * reads the id.  TCP rather than a shared file because ranks on different
 * hosts rarely share a writable folder with the same path, and a listening
 * socket is what the launchers already assume (torchrun does the same). */
#include "boot.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* the first of names that is set; -2 when none, -1 (error) when not a number */
static int env_int(const char *const *names, int lo, int hi, int *out, const char **from) {
    for (int i = 0; names[i]; i++) {
        const char *v = getenv(names[i]);
        if (!v || !*v) continue;
        char *end = NULL;
        long x = strtol(v, &end, 10);
        *from = names[i];
        if (*end || x < lo || x > hi) return -1;
        *out = (int)x;
        return 0;
    }
    return -2;
}

int nccl_place_from_env(const cv_create_args *args, nccl_place *p, cv_error *err) {
    const cv_host *h = args->host;
    static const char *const rank_vars[] = { "RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK", "SLURM_PROCID", NULL };
    static const char *const world_vars[] = { "WORLD_SIZE", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_NTASKS", NULL };
    static const char *const local_vars[] = { "LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID",
                                              "SLURM_LOCALID", NULL };
    static const char *const port_vars[] = { "MASTER_PORT", NULL };
    const char *from = NULL;
    memset(p, 0, sizeof *p);
    int st = env_int(world_vars, 1, 1 << 20, &p->world, &from);
    if (st == -1) return h->set_error(err, CV_ERR_INVALID, "comm nccl: %s=%s is not a world size", from, getenv(from));
    if (st == -2) p->world = args->world_size > 0 ? args->world_size : 1;
    st = env_int(rank_vars, 0, p->world - 1, &p->rank, &from);
    if (st == -1)
        return h->set_error(err, CV_ERR_INVALID, "comm nccl: %s=%s is not a rank in [0, %d)", from, getenv(from), p->world);
    p->rank_from = st == -2 ? "create args" : from;
    if (st == -2) p->rank = args->rank;
    if (p->rank < 0 || p->rank >= p->world)
        return h->set_error(err, CV_ERR_INVALID, "comm nccl: rank %d (from %s) is outside [0, %d)", p->rank, p->rank_from,
                            p->world);
    p->local_rank = -1;
    st = env_int(local_vars, 0, 1 << 20, &p->local_rank, &from);
    if (st == -1) return h->set_error(err, CV_ERR_INVALID, "comm nccl: %s=%s is not a local rank", from, getenv(from));
    if (st == -2) p->local_rank = -1;
    p->port = 29500;
    st = env_int(port_vars, 1, 65535, &p->port, &from);
    if (st == -1) return h->set_error(err, CV_ERR_INVALID, "comm nccl: MASTER_PORT=%s is not a TCP port", getenv("MASTER_PORT"));
    const char *addr = getenv("MASTER_ADDR");
    snprintf(p->addr, sizeof p->addr, "%s", addr && *addr ? addr : "127.0.0.1");
    return CV_OK;
}

/* write or read exactly n bytes, waiting at most until deadline */
static int xfer(int fd, void *buf, size_t n, int sending, double deadline) {
    char *b = buf;
    while (n) {
        struct pollfd pf = { fd, (short)(sending ? POLLOUT : POLLIN), 0 };
        int ms = (int)((deadline - now_s()) * 1000);
        if (ms <= 0 || poll(&pf, 1, ms) <= 0) return -1;
        ssize_t k = sending ? send(fd, b, n, MSG_NOSIGNAL) : recv(fd, b, n, 0);
        if (k <= 0) {
            if (k < 0 && (errno == EINTR || errno == EAGAIN)) continue;
            return -1;
        }
        b += k;
        n -= (size_t)k;
    }
    return 0;
}

static int serve(const cv_host *h, const nccl_place *p, void *id, size_t id_bytes, double deadline, cv_error *err) {
    int fd = socket(AF_INET6, SOCK_STREAM, 0), v6 = 1;
    if (fd < 0) { fd = socket(AF_INET, SOCK_STREAM, 0); v6 = 0; }
    if (fd < 0) return h->set_error(err, CV_ERR_IO, "comm nccl: rank 0 cannot open a socket: %s", strerror(errno));
    int one = 1, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t len;
    if (v6) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero); /* accept IPv4 peers too */
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_any;
        a->sin6_port = htons((uint16_t)p->port);
        len = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_ANY);
        a->sin_port = htons((uint16_t)p->port);
        len = sizeof *a;
    }
    if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 128)) {
        int e = errno;
        close(fd);
        return h->set_error(err, CV_ERR_IO, "comm nccl: rank 0 cannot listen on port %d (MASTER_PORT): %s", p->port,
                            strerror(e));
    }
    for (int served = 1; served < p->world; served++) {
        struct pollfd pf = { fd, POLLIN, 0 };
        int ms = (int)((deadline - now_s()) * 1000);
        int c = ms > 0 && poll(&pf, 1, ms) > 0 ? accept(fd, NULL, NULL) : -1;
        if (c < 0 || xfer(c, id, id_bytes, 1, deadline)) {
            if (c >= 0) close(c);
            close(fd);
            return h->set_error(err, CV_ERR_IO,
                                "comm nccl: rank 0 timed out on port %d: only %d of %d ranks connected (did every rank "
                                "start, with the same MASTER_ADDR/MASTER_PORT?)",
                                p->port, served, p->world);
        }
        close(c);
    }
    close(fd);
    return CV_OK;
}

static int fetch(const cv_host *h, const nccl_place *p, void *id, size_t id_bytes, double deadline, cv_error *err) {
    char port[16];
    snprintf(port, sizeof port, "%d", p->port);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int gai = getaddrinfo(p->addr, port, &hints, &res);
    if (gai)
        return h->set_error(err, CV_ERR_IO, "comm nccl: rank %d cannot resolve MASTER_ADDR=%s: %s", p->rank, p->addr,
                            gai_strerror(gai));
    int ok = 0;
    while (!ok && now_s() < deadline) {
        for (struct addrinfo *a = res; a && !ok; a = a->ai_next) {
            int fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
            if (fd < 0) continue;
            if (connect(fd, a->ai_addr, a->ai_addrlen) == 0 && xfer(fd, id, id_bytes, 0, deadline) == 0) ok = 1;
            close(fd);
        }
        if (!ok) {
            struct timespec ts = { 0, 100 * 1000 * 1000 }; /* rank 0 may not listen yet */
            nanosleep(&ts, NULL);
        }
    }
    freeaddrinfo(res);
    if (!ok)
        return h->set_error(err, CV_ERR_IO, "comm nccl: rank %d could not get the NCCL id from rank 0 at %s:%d (is rank 0 "
                            "running, and MASTER_ADDR/MASTER_PORT the same everywhere?)",
                            p->rank, p->addr, p->port);
    return CV_OK;
}

int nccl_exchange_id(const cv_host *host, const nccl_place *p, void *id, size_t id_bytes, double timeout_s,
                     cv_error *err) {
    if (p->world <= 1) return CV_OK;
    double deadline = now_s() + timeout_s;
    return p->rank == 0 ? serve(host, p, id, id_bytes, deadline, err) : fetch(host, p, id, id_bytes, deadline, err);
}
