#include "wg/keypair.h"

#include <sodium.h>
#include <stdlib.h>

struct wg_keypair *wg_keypair_new(const uint8_t send_key[WG_KEY_LEN], const uint8_t recv_key[WG_KEY_LEN])
{
    struct wg_keypair *kp = calloc(1, sizeof *kp);

    if (!kp)
        return NULL;
    /* Keyed once here so that no packet allocates or expands a key. */
    if (!wg_aead_init(&kp->send, send_key) || !wg_aead_init(&kp->recv, recv_key)) {
        wg_aead_wipe(&kp->send);
        wg_aead_wipe(&kp->recv);
        free(kp);
        return NULL;
    }
    return kp;
}

/* Every path that drops a keypair (rotation, expiry, zeroing, peer and device
 * free) ends here, so the backends' contexts are freed exactly once. */
void wg_keypair_destroy(struct wg_index_table *t, struct wg_keypair *kp)
{
    if (!kp)
        return;
    wg_index_remove(t, &kp->entry);
    wg_aead_wipe(&kp->send);
    wg_aead_wipe(&kp->recv);
    sodium_memzero(kp, sizeof *kp);
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
