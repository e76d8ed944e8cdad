/* Internal to disco/path*.c: the pieces of per-peer path selection that more
 * than one file of it uses. Nothing outside disco/ includes this. */
#ifndef VOLE_DISCO_PATH_INTERNAL_H
#define VOLE_DISCO_PATH_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "disco/path.h"

static inline void disco_path_out_reset(struct disco_path_out *out)
{
    out->n_pings = 0;
    out->call_me_maybe = false;
}

/* path_candidates.c: the candidate table. */
/* The form an address is kept in (IPv4-mapped IPv6 as IPv4), or false if it
 * is never a candidate (family 0, port 0, unspecified, link-local IPv6, overlay). */
bool disco_path_cand_normalize(const struct wg_endpoint *in, struct wg_endpoint *out);
/* The candidate for ep (already normalized), or NULL. */
struct disco_path_candidate *disco_path_cand_find(struct disco_path *p, const struct wg_endpoint *ep);
/* Adds source to ep's candidate, creating it if there is room. NULL (and
 * counted) if ep is unusable or the table is full. */
struct disco_path_candidate *disco_path_cand_add(struct disco_path *p, const struct wg_endpoint *ep,
                                                 unsigned source);
/* Clears one source bit on every candidate; disco_path_cand_compact removes
 * the ones left without a source (and forgets best if it was one of them). */
void disco_path_cand_clear_source(struct disco_path *p, unsigned source);
void disco_path_cand_compact(struct disco_path *p);
/* Ping-learned sources older than 45 s (shouldDeleteLocked). */
void disco_path_cand_expire(struct disco_path *p, uint64_t now);

/* path_sent.c: pings awaiting a pong. */
/* false if a younger-than-timeout slot had to be reused. */
bool disco_path_sent_record(struct disco_path *p, const uint8_t txid[DISCO_TXID_LEN],
                            const struct wg_endpoint *to, uint64_t now);
struct disco_path_sent *disco_path_sent_find(struct disco_path *p, const uint8_t txid[DISCO_TXID_LEN]);
bool disco_path_sent_expired(const struct disco_path_sent *s, uint64_t now);
/* Frees one slot; a timed-out ping to an untrusted best is a miss. */
void disco_path_sent_release(struct disco_path *p, struct disco_path_sent *s, uint64_t now);
/* Releases every timed-out ping. */
void disco_path_sent_expire(struct disco_path *p, uint64_t now);
/* The earliest timeout of a ping in flight, or UINT64_MAX. */
uint64_t disco_path_sent_next_timeout(const struct disco_path *p);

/* path_best.c: the best address. */
void disco_path_best_forget(struct disco_path *p);
/* A timed-out ping to `to` sent at `at`: counts a miss against an untrusted best. */
void disco_path_best_note_timeout(struct disco_path *p, const struct wg_endpoint *to, uint64_t at);
/* A UDP pong with this latency for a ping that went to candidate c. */
void disco_path_best_note_pong(struct disco_path *p, struct disco_path_candidate *c, uint64_t latency,
                               uint64_t now);

/* path_pings.c: asking for pings. */
void disco_path_ping_candidate(struct disco_path *p, struct disco_path_candidate *c, uint64_t now,
                               struct disco_path_out *out);
/* sendDiscoPingsLocked: a full round; true if any ping was asked for. */
bool disco_path_ping_round(struct disco_path *p, uint64_t now, struct disco_path_out *out);
/* wantFullPingLocked. */
bool disco_path_want_full_ping(const struct disco_path *p, uint64_t now);

#endif
