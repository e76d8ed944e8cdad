/* The one part of the interface facts that asks the OS: getifaddrs for
 * names, flags and addresses, SIOCGIFMTU (else sysfs) for the MTU, and the
 * /proc route tables for the default route. */
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf/file.h"
#include "diag/ifaces.h"

#define ROUTE_FILE_MAX (8u << 20)   /* a full routing table still fits */

/* getifaddrs names IPv4 addresses by their label ("eth0:1"); Linux forbids
 * ':' in interface names, so the part before it is the interface. */
static void base_name(const char *label, char out[IF_NAMESIZE])
{
    size_t n = strcspn(label, ":");

    if (n >= IF_NAMESIZE)
        n = IF_NAMESIZE - 1;
    memcpy(out, label, n);
    out[n] = '\0';
}

static int find(const struct vole_ifaces *x, const char *name)
{
    for (size_t i = 0; i < x->n; i++)
        if (strcmp(x->names[i], name) == 0)
            return (int)i;
    return -1;
}

static void add_iface(struct vole_ifaces *x, const struct ifaddrs *ifa)
{
    char name[IF_NAMESIZE];
    int i;

    base_name(ifa->ifa_name, name);
    if ((i = find(x, name)) >= 0) {
        x->ifaces[i].up |= (ifa->ifa_flags & IFF_UP) != 0;
        return;
    }
    if (x->n == VOLE_IFACES_MAX) {
        /* Linux lists each interface once as AF_PACKET (then once per
         * address): counting those counts interfaces, not entries. */
        if (ifa->ifa_addr && ifa->ifa_addr->sa_family == AF_PACKET)
            x->n_skipped++;
        return;
    }
    strcpy(x->names[x->n], name);
    x->ifaces[x->n] = (struct vole_ping_iface){ .name = x->names[x->n], .up = (ifa->ifa_flags & IFF_UP) != 0 };
    x->n++;
}

static uint8_t prefix_len(const uint8_t *mask, size_t bytes)
{
    uint8_t len = 0;

    for (size_t i = 0; i < bytes; i++)
        for (int bit = 7; bit >= 0 && (mask[i] >> bit) & 1; bit--)
            len++;
    return len;
}

/* IPv4 or IPv6 address of ifa into a; false for other families. */
static bool to_addr(const struct ifaddrs *ifa, struct vole_ping_ifaddr *a)
{
    const struct sockaddr *sa = ifa->ifa_addr, *mask = ifa->ifa_netmask;

    memset(a, 0, sizeof *a);
    if (sa && sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        a->family = 4;
        memcpy(a->addr, &in->sin_addr, 4);
        a->prefix_len = 32;
        if (mask && mask->sa_family == AF_INET)
            a->prefix_len = prefix_len((const uint8_t *)&((const struct sockaddr_in *)(const void *)mask)->sin_addr, 4);
        return true;
    }
    if (sa && sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        a->family = 6;
        memcpy(a->addr, &in6->sin6_addr, 16);
        a->prefix_len = 128;
        if (mask && mask->sa_family == AF_INET6)
            a->prefix_len =
                prefix_len((const uint8_t *)&((const struct sockaddr_in6 *)(const void *)mask)->sin6_addr, 16);
        return true;
    }
    return false;
}

/* Each interface's addresses are gathered in turn so that they lie
 * together in x->addrs (getifaddrs lists them by family, not by interface). */
static void add_addrs(struct vole_ifaces *x, const struct ifaddrs *list)
{
    for (size_t i = 0; i < x->n; i++) {
        struct vole_ping_iface *it = &x->ifaces[i];
        it->addrs = &x->addrs[x->n_addrs];
        for (const struct ifaddrs *ifa = list; ifa; ifa = ifa->ifa_next) {
            char name[IF_NAMESIZE];
            struct vole_ping_ifaddr a;
            base_name(ifa->ifa_name, name);
            if (strcmp(name, x->names[i]) != 0 || !to_addr(ifa, &a))
                continue;
            if (x->n_addrs == VOLE_IFACES_MAX_ADDRS) {
                x->n_skipped++;
                continue;
            }
            x->addrs[x->n_addrs++] = a;
            it->n_addrs++;
        }
    }
}

static int mtu_sysfs(const char *name)
{
    char path[64], line[32];
    int mtu = 0;

    snprintf(path, sizeof path, "/sys/class/net/%s/mtu", name);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    if (fgets(line, sizeof line, f)) {
        char *end;
        long v = strtol(line, &end, 10);
        if (end != line && v > 0 && v <= 0x7fffffffL)
            mtu = (int)v;
    }
    fclose(f);
    return mtu;
}

/* 0 when neither the ioctl nor sysfs knows: the MTU check skips it. */
static void read_mtus(struct vole_ifaces *x)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    for (size_t i = 0; i < x->n; i++) {
        struct ifreq req;
        memset(&req, 0, sizeof req);
        strcpy(req.ifr_name, x->names[i]);
        if (fd >= 0 && ioctl(fd, SIOCGIFMTU, &req) == 0)
            x->ifaces[i].mtu = req.ifr_mtu;
        else
            x->ifaces[i].mtu = mtu_sysfs(x->names[i]);
    }
    if (fd >= 0)
        close(fd);
}

/* A missing or unreadable table is no default route, not an error: the
 * VPN check just does not run. */
static int route_from(const char *path, int (*parse)(const char *, char[IF_NAMESIZE]), char out[IF_NAMESIZE])
{
    char *buf = NULL;
    size_t len = 0;
    int errnum = 0, rc = -1;

    out[0] = '\0';
    if (vole_file_read(path, ROUTE_FILE_MAX, &buf, &len, &errnum) == VOLE_FILE_OK)
        rc = parse(buf, out);
    vole_file_free(buf, len);
    return rc;
}

int vole_ifaces_read(struct vole_ifaces *out, char *err, size_t errlen)
{
    struct ifaddrs *list = NULL;

    memset(out, 0, sizeof *out);
    if (getifaddrs(&list) < 0) {
        snprintf(err, errlen, "getifaddrs: %s", strerror(errno));
        return -1;
    }
    for (const struct ifaddrs *ifa = list; ifa; ifa = ifa->ifa_next)
        add_iface(out, ifa);
    add_addrs(out, list);
    freeifaddrs(list);
    read_mtus(out);
    if (route_from("/proc/net/route", vole_ifaces_default_route_v4, out->default_route) < 0)
        route_from("/proc/net/ipv6_route", vole_ifaces_default_route_v6, out->default_route);
    return 0;
}
