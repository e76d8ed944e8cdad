/* WireGuard wire formats and protocol constants.
 * Sources: the WireGuard paper, shared/reference/performance.md §3.2–3.3
 * (kernel messages.h, wireguard-go device/constants.go). */
#ifndef VOLE_WG_MESSAGES_H
#define VOLE_WG_MESSAGES_H

#include <stdint.h>

#define WG_KEY_LEN          32
#define WG_HASH_LEN         32
#define WG_MAC_LEN          16
#define WG_COOKIE_LEN       16
#define WG_AEAD_TAG_LEN     16
#define WG_TIMESTAMP_LEN    12
#define WG_COOKIE_NONCE_LEN 24

enum wg_message_type {
    WG_MSG_INITIATION = 1,
    WG_MSG_RESPONSE   = 2,
    WG_MSG_COOKIE     = 3,
    WG_MSG_DATA       = 4,
};

#define WG_INITIATION_LEN   148
#define WG_RESPONSE_LEN     92
#define WG_COOKIE_REPLY_LEN 64
#define WG_DATA_HEADER_LEN  16
#define WG_DATA_OVERHEAD    (WG_DATA_HEADER_LEN + WG_AEAD_TAG_LEN)  /* 32: a keepalive */
#define WG_PADDING_MULTIPLE 16

/* Offsets of mac1 and mac2 in the two handshake messages: macs cover
 * everything before them. */
#define WG_INITIATION_MAC1_OFF 116
#define WG_INITIATION_MAC2_OFF 132
#define WG_RESPONSE_MAC1_OFF   60
#define WG_RESPONSE_MAC2_OFF   76

/* Timer and limit constants (§3.3), in nanoseconds where they are times. */
#define WG_NS                      1000000000ull
#define WG_REKEY_AFTER_MESSAGES    (1ull << 60)
#define WG_REJECT_AFTER_MESSAGES   (UINT64_MAX - 8192ull - 1)   /* 2^64 - 2^13 - 1 */
#define WG_REKEY_AFTER_TIME        (120 * WG_NS)
#define WG_REJECT_AFTER_TIME       (180 * WG_NS)
#define WG_REKEY_ATTEMPT_TIME      (90 * WG_NS)
#define WG_REKEY_TIMEOUT           (5 * WG_NS)
#define WG_REKEY_TIMEOUT_JITTER_MS 334
#define WG_KEEPALIVE_TIMEOUT       (10 * WG_NS)
#define WG_COOKIE_SECRET_MAX_AGE   (120 * WG_NS)
#define WG_COOKIE_SECRET_LATENCY   (5 * WG_NS)
#define WG_MAX_TIMER_HANDSHAKES    (90 / 5)
#define WG_INITIATIONS_PER_SECOND  50
#define WG_MAX_STAGED_PACKETS      128
#define WG_UNDER_LOAD_AFTER_TIME   (1 * WG_NS)

#endif
