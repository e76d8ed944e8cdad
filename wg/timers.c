/* Per-peer timers, as the kernel's timers.c describes them (performance.md §3.3).
 * Each timer is an absolute monotonic deadline; wg_device_tick runs the due ones. */
#include "wg/core.h"

/* 0..REKEY_TIMEOUT_JITTER_MS ms, from the device's PRNG (wg/jitter.h says why). */
static uint64_t jitter(struct wg_peer *peer)
{
    return (uint64_t)wg_jitter_below(&peer->dev->jitter, WG_REKEY_TIMEOUT_JITTER_MS + 1) * 1000000ull;
}

static void mod_timer(struct wg_peer *peer, enum wg_timer t, uint64_t deadline)
{
    peer->timers[t] = deadline ? deadline : 1;
    if (peer->timers[t] < peer->dev->next_deadline)
        peer->dev->next_deadline = peer->timers[t];
}

static void del_timer(struct wg_peer *peer, enum wg_timer t)
{
    peer->timers[t] = 0;   /* next_deadline may now be early: a spurious tick is harmless */
}

static bool pending(const struct wg_peer *peer, enum wg_timer t)
{
    return peer->timers[t] != 0;
}

void wg_timers_data_sent(struct wg_peer *peer, uint64_t now)
{
    if (!pending(peer, WG_TIMER_NEW_HANDSHAKE))
        mod_timer(peer, WG_TIMER_NEW_HANDSHAKE, now + WG_KEEPALIVE_TIMEOUT + WG_REKEY_TIMEOUT + jitter(peer));
}

void wg_timers_data_received(struct wg_peer *peer, uint64_t now)
{
    if (!pending(peer, WG_TIMER_SEND_KEEPALIVE))
        mod_timer(peer, WG_TIMER_SEND_KEEPALIVE, now + WG_KEEPALIVE_TIMEOUT);
    else
        peer->need_another_keepalive = true;
}

void wg_timers_any_authenticated_packet_sent(struct wg_peer *peer)
{
    del_timer(peer, WG_TIMER_SEND_KEEPALIVE);
}

void wg_timers_any_authenticated_packet_received(struct wg_peer *peer)
{
    del_timer(peer, WG_TIMER_NEW_HANDSHAKE);
}

void wg_timers_any_authenticated_packet_traversal(struct wg_peer *peer, uint64_t now)
{
    if (peer->persistent_keepalive)
        mod_timer(peer, WG_TIMER_PERSISTENT_KEEPALIVE, now + peer->persistent_keepalive * WG_NS);
}

void wg_timers_handshake_initiated(struct wg_peer *peer, uint64_t now)
{
    mod_timer(peer, WG_TIMER_RETRANSMIT_HANDSHAKE, now + WG_REKEY_TIMEOUT + jitter(peer));
}

void wg_timers_handshake_complete(struct wg_peer *peer, uint64_t now)
{
    del_timer(peer, WG_TIMER_RETRANSMIT_HANDSHAKE);
    peer->handshake_attempts = 0;
    peer->sent_lastminute_handshake = false;
    peer->last_handshake_unix_ns = now + (uint64_t)peer->dev->wall_offset;
}

void wg_timers_session_derived(struct wg_peer *peer, uint64_t now)
{
    mod_timer(peer, WG_TIMER_ZERO_KEY_MATERIAL, now + WG_REJECT_AFTER_TIME * 3);
}

void wg_timers_stop(struct wg_peer *peer)
{
    for (int t = 0; t < WG_TIMER_COUNT; t++)
        peer->timers[t] = 0;
}

static void expired_retransmit_handshake(struct wg_peer *peer, uint64_t now)
{
    if (peer->handshake_attempts > WG_MAX_TIMER_HANDSHAKES) {
        /* Give up: drop what waited for this handshake, forget the keys later. */
        del_timer(peer, WG_TIMER_SEND_KEEPALIVE);
        /* Counted like the kernel's purge (tx_dropped += queue length). */
        peer->dev->stats.tx_staged_dropped += peer->staged.count;
        wg_staged_purge(&peer->staged);
        if (!pending(peer, WG_TIMER_ZERO_KEY_MATERIAL))
            mod_timer(peer, WG_TIMER_ZERO_KEY_MATERIAL, now + WG_REJECT_AFTER_TIME * 3);
        wg_emit(peer, WG_EV_HANDSHAKE_GAVE_UP);
        return;
    }
    ++peer->handshake_attempts;
    wg_send_handshake_initiation(peer, true, now);
}

static void expired_send_keepalive(struct wg_peer *peer, uint64_t now)
{
    wg_send_keepalive(peer, now);
    if (peer->need_another_keepalive) {
        peer->need_another_keepalive = false;
        mod_timer(peer, WG_TIMER_SEND_KEEPALIVE, now + WG_KEEPALIVE_TIMEOUT);
    }
}

static void expired_zero_key_material(struct wg_peer *peer)
{
    wg_keypairs_clear(&peer->keypairs, &peer->dev->index);
    wg_noise_handshake_clear(peer->dev, &peer->hs);
    wg_emit(peer, WG_EV_KEYS_ZEROED);
}

void wg_timers_run(struct wg_peer *peer, uint64_t now)
{
    for (int t = 0; t < WG_TIMER_COUNT; t++) {
        if (!peer->timers[t] || peer->timers[t] > now)
            continue;
        peer->timers[t] = 0;
        switch ((enum wg_timer)t) {
        case WG_TIMER_RETRANSMIT_HANDSHAKE: expired_retransmit_handshake(peer, now); break;
        case WG_TIMER_SEND_KEEPALIVE: expired_send_keepalive(peer, now); break;
        case WG_TIMER_NEW_HANDSHAKE: wg_send_handshake_initiation(peer, false, now); break;
        case WG_TIMER_ZERO_KEY_MATERIAL: expired_zero_key_material(peer); break;
        case WG_TIMER_PERSISTENT_KEEPALIVE:
            if (peer->persistent_keepalive)
                wg_send_keepalive(peer, now);
            break;
        case WG_TIMER_COUNT: break;
        }
    }
}
