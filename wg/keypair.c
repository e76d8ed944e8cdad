#include "wg/keypair.h"

#include <sodium.h>
#include <stdlib.h>

void wg_keypair_destroy(struct wg_index_table *t, struct wg_keypair *kp)
{
    if (!kp)
        return;
    wg_index_remove(t, &kp->entry);
    sodium_memzero(kp->send_key, sizeof kp->send_key);
    sodium_memzero(kp->recv_key, sizeof kp->recv_key);
    free(kp);
}

void wg_keypairs_add(struct wg_keypairs *kps, struct wg_index_table *t, struct wg_keypair *kp)
{
    if (kp->initiator) {
        /* A confirmed next (we were responder in a race) becomes previous. */
        if (kps->next) {
            wg_keypair_destroy(t, kps->previous);
            kps->previous = kps->next;
            kps->next = NULL;
            wg_keypair_destroy(t, kps->current);
        } else {
            wg_keypair_destroy(t, kps->previous);
            kps->previous = kps->current;
        }
        kps->current = kp;
    } else {
        wg_keypair_destroy(t, kps->next);
        kps->next = kp;
        wg_keypair_destroy(t, kps->previous);
        kps->previous = NULL;
    }
}

bool wg_keypairs_received_with(struct wg_keypairs *kps, struct wg_index_table *t, struct wg_keypair *kp)
{
    if (kp != kps->next)
        return false;
    kps->next = NULL;
    wg_keypair_destroy(t, kps->previous);
    kps->previous = kps->current;
    kps->current = kp;
    return true;
}

void wg_keypairs_clear(struct wg_keypairs *kps, struct wg_index_table *t)
{
    wg_keypair_destroy(t, kps->previous);
    wg_keypair_destroy(t, kps->current);
    wg_keypair_destroy(t, kps->next);
    kps->previous = kps->current = kps->next = NULL;
}

bool wg_keypair_expired(const struct wg_keypair *kp, uint64_t now)
{
    return now - kp->created >= WG_REJECT_AFTER_TIME ||
           kp->send_counter >= WG_REJECT_AFTER_MESSAGES;
}
