/* Inner packets to a pcap file (stack/pcap_tap.h), through the stack's tap. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <pcap/pcap.h>

#include "lwip/pbuf.h"

#include "stack/pcap_tap.h"
#include "stack/stack.h"

/* Whole packets: the tunnel's inner MTU is far below this. */
#define SNAPLEN 65535

struct vole_pcap_tap {
    pcap_t *dead;
    pcap_dumper_t *dump;
    struct vole_stack *stack;
    uint64_t count;
    uint8_t buf[SNAPLEN];   /* a pbuf chain made contiguous */
};

static void on_packet(void *ctx, const struct pbuf *p, bool out)
{
    struct vole_pcap_tap *t = ctx;
    struct pcap_pkthdr h;
    u16_t n;
    (void)out;   /* DLT_RAW has no direction; the addresses tell */

    gettimeofday(&h.ts, NULL);
    n = pbuf_copy_partial(p, t->buf, p->tot_len < SNAPLEN ? p->tot_len : SNAPLEN, 0);
    h.caplen = n;
    h.len = p->tot_len;
    pcap_dump((u_char *)t->dump, &h, t->buf);
    t->count++;
}

struct vole_pcap_tap *vole_pcap_tap_open(const char *path, char *err, size_t errlen)
{
    struct vole_pcap_tap *t = calloc(1, sizeof *t);

    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->dead = pcap_open_dead(DLT_RAW, SNAPLEN);
    if (!t->dead) {
        snprintf(err, errlen, "pcap_open_dead failed");
        free(t);
        return NULL;
    }
    t->dump = pcap_dump_open(t->dead, path);
    if (!t->dump) {
        snprintf(err, errlen, "%s", pcap_geterr(t->dead));
        pcap_close(t->dead);
        free(t);
        return NULL;
    }
    return t;
}

void vole_pcap_tap_attach(struct vole_pcap_tap *t, struct vole_stack *s)
{
    if (t->stack)
        vole_stack_set_tap(t->stack, NULL, NULL);
    t->stack = s;
    if (s)
        vole_stack_set_tap(s, on_packet, t);
}

uint64_t vole_pcap_tap_count(const struct vole_pcap_tap *t)
{
    return t->count;
}

int vole_pcap_tap_close(struct vole_pcap_tap *t, char *err, size_t errlen)
{
    int rc = 0;

    if (!t)
        return 0;
    vole_pcap_tap_attach(t, NULL);
    if (pcap_dump_flush(t->dump) != 0) {
        snprintf(err, errlen, "write failed");
        rc = -1;
    }
    pcap_dump_close(t->dump);
    pcap_close(t->dead);
    free(t);
    return rc;
}
