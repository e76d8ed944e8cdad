/* `vole netcheck`'s path MTU phase, sans-IO: how large a UDP packet reaches
 * each STUN server that answered, found with padded binding requests
 * (stun_build_padded_request) sent with don't-fragment by the embedder.
 *
 * Sizes are wire sizes: the whole IP packet, IPv4 header 20 and IPv6 40,
 * plus UDP 8. First the ladder Tailscale probes (576, 1280, 1360, 1400,
 * 1500) in parallel; then rounds of up to seven sizes spread evenly (on
 * 8-byte steps) between the largest size answered and the smallest above it
 * that was not, until those are 8 bytes apart. A size is tried twice, 500 ms
 * apart, and fails when neither try is answered or the OS refuses to send it
 * (EMSGSIZE once the kernel knows a smaller path MTU). A round ends when every
 * size above the largest answered has failed. Servers run in parallel and
 * the phase ends after 3 s at most, each server then reporting the largest
 * size answered so far.
 *
 * Use: vole_pmtu_init; vole_pmtu_poll whenever vole_pmtu_deadline has come
 * (it sends what is due through io->send); feed received datagrams to
 * vole_pmtu_handle; stop when vole_pmtu_done. */
#ifndef VOLE_DIAG_NETCHECK_PMTU_H
#define VOLE_DIAG_NETCHECK_PMTU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stun/stun.h"
#include "wg/endpoint.h"

#define VOLE_PMTU_MAX_SERVERS 32
#define VOLE_PMTU_TRIES 2
#define VOLE_PMTU_TRY_NS 500000000ull       /* an unanswered try is lost after this */
#define VOLE_PMTU_PHASE_NS 3000000000ull    /* the whole phase */
#define VOLE_PMTU_STEP 8                    /* the search's resolution, bytes */
#define VOLE_PMTU_MAX_WIRE 1500             /* the largest size probed */
#define VOLE_PMTU_ROUND_MAX 7               /* sizes probed at once per server */
#define VOLE_PMTU_LADDER { 576, 1280, 1360, 1400, 1500 }

/* IP and UDP header bytes for family 4 or 6 (28, 48). */
unsigned vole_pmtu_overhead(int family);

struct vole_pmtu_size {
    unsigned wire;
    uint8_t txid[VOLE_PMTU_TRIES][STUN_TXID_LEN];
    unsigned tries;
    uint64_t sent_at;
    bool answered, failed;
};

struct vole_pmtu_server {
    struct wg_endpoint ep;
    unsigned lo;          /* the largest wire size answered; 0: none yet */
    unsigned hi;          /* the smallest size above lo that failed; 0: none */
    struct vole_pmtu_size round[VOLE_PMTU_ROUND_MAX];
    size_t n_round;
    unsigned rounds;      /* started so far, the ladder included */
    bool done;
};

struct vole_pmtu_prober {
    uint64_t end;
    size_t n;
    struct vole_pmtu_server s[VOLE_PMTU_MAX_SERVERS];
};

/* The embedder's side. send: transmit len bytes of buf (a wire-byte IP
 * packet once headers are added) to server i with don't-fragment; false
 * when the OS refused it. note: a size answered ("answered"), lost on both
 * tries ("no answer") or refused ("not sent"), for -v; may be NULL. */
struct vole_pmtu_io {
    bool (*send)(void *ctx, size_t i, const struct wg_endpoint *dst, const uint8_t *buf, size_t len, unsigned wire);
    void (*note)(void *ctx, size_t i, unsigned wire, const char *what);
    void *ctx;
};

/* 0, or -1 when n is 0 or above VOLE_PMTU_MAX_SERVERS or a server's family
 * is neither 4 nor 6. The ladder is due at now. */
int vole_pmtu_init(struct vole_pmtu_prober *p, const struct wg_endpoint *servers, size_t n, uint64_t now);

/* Sends the tries due at now, ends the tries lost, starts the next rounds. */
void vole_pmtu_poll(struct vole_pmtu_prober *p, uint64_t now, const struct vole_pmtu_io *io);

/* A received datagram: true when it answers one of our probes (consumed,
 * and the next round may be due at once: poll again). */
bool vole_pmtu_handle(struct vole_pmtu_prober *p, const uint8_t *buf, size_t len, uint64_t now,
                      const struct vole_pmtu_io *io);

/* When poll next has something to do (never later than the phase's end). */
uint64_t vole_pmtu_deadline(const struct vole_pmtu_prober *p);

bool vole_pmtu_done(const struct vole_pmtu_prober *p, uint64_t now);

/* Server i's path MTU: the largest wire size it answered (so far), 0 when none. */
unsigned vole_pmtu_result(const struct vole_pmtu_prober *p, size_t i);

#endif
