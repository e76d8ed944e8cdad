/* conf/wgconf: wg-quick config parsing, good files and every error, with the
 * exact "NAME:LINE:" prefix of each message. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "conf/key.h"
#include "conf/wgconf.h"

/* Made by wg genkey / wg pubkey / wg genpsk. */
#define PRIV  "aIS/2RfbYKZ3kN2wd1udLsuEBxPx14wI2aMFUBGaV38="
#define PUB_A "wrEJhjoM4FzgQsEpI3foKjbtCclx1uwGkVRsoKHAyUc="
#define PUB_B "eAzR6mUBpzssfR++nbHHJfFIyOiaMrT2zcAJ6xyWKBU="
#define PSK   "4/Pj/l1zdRqIZd/QbhaYNhxCtChOO8sBvrLep2AYDAc="
#define SHORT "aIS/2RfbYKZ3kN2wd1udLsuEBxPx14wI2aMFUBGaV3="   /* 43 chars */

#define IFACE "[Interface]\nPrivateKey = " PRIV "\n"   /* lines 1-2 */

static void assert_key(const uint8_t bin[32], const char *b64)
{
    char out[VOLE_KEY_B64_LEN];
    vole_key_to_base64(out, bin);
    assert_string_equal(out, b64);
}

static void assert_cidr(const struct vole_cidr *c, const char *text)
{
    char addr[INET6_ADDRSTRLEN], got[64];
    inet_ntop(c->family == 6 ? AF_INET6 : AF_INET, c->addr, addr, sizeof(addr));
    snprintf(got, sizeof(got), "%s/%u", addr, c->cidr);
    assert_string_equal(got, text);
}

static int conf_is_empty(const struct vole_conf *c)
{
    return !c->has_private_key && c->addresses == NULL && c->n_addresses == 0 &&
           c->peers == NULL && c->n_peers == 0 && c->warnings == NULL &&
           c->n_warnings == 0 && c->mtu == 0 && !c->has_listen_port;
}

static void parse_ok(struct vole_conf *c, const char *text)
{
    char err[256] = "";
    int rc = vole_conf_parse_string(c, text, "t.conf", err, sizeof(err));
    if (rc != 0)
        fail_msg("unexpected error: %s", err);
}

/* The message must start with prefix ("t.conf:LINE: ") and contain what. */
static void expect_error(const char *text, const char *prefix, const char *what)
{
    struct vole_conf c;
    char err[256] = "";
    assert_int_equal(vole_conf_parse_string(&c, text, "t.conf", err, sizeof(err)), -1);
    if (strncmp(err, prefix, strlen(prefix)) != 0 || strstr(err, what) == NULL)
        fail_msg("got \"%s\", want prefix \"%s\" and \"%s\"", err, prefix, what);
    assert_null(strchr(err, '\n'));
    assert_true(conf_is_empty(&c));
    vole_conf_free(&c);   /* must be harmless on a failed parse */
}

static const char FULL[] =
    "# wg0: a road-warrior setup\n"                               /* 1 */
    "[Interface]\n"                                               /* 2 */
    "PrivateKey = " PRIV "   # keep this secret\n"                /* 3 */
    "Address = 10.0.0.2/24, fd00::2/64\n"                         /* 4 */
    "ListenPort=51820\n"                                          /* 5 */
    "  MTU\t=\t1420  \n"                                          /* 6 */
    "DNS = 1.1.1.1, 2606:4700:4700::1111\n"                       /* 7 */
    "\n"                                                          /* 8 */
    "[Peer]\n"                                                    /* 9 */
    "# the hub\n"                                                 /* 10 */
    "PublicKey = " PUB_A "\n"                                     /* 11 */
    "PresharedKey = " PSK "\n"                                    /* 12 */
    "Endpoint = [2001:db8::1]:51820\n"                            /* 13 */
    "AllowedIPs = 10.0.0.0/24, fd00::/64\n"                       /* 14 */
    "AllowedIPs = 192.168.1.0/24\n"                               /* 15 */
    "PersistentKeepalive = off\n"                                 /* 16 */
    "\n"                                                          /* 17 */
    "[peer]\n"                                                    /* 18 */
    "publickey=" PUB_B "\n"                                       /* 19 */
    "ENDPOINT = vpn.example.com:443\n"                            /* 20 */
    "allowedips = 0.0.0.0/0,::/0 # everything\n"                  /* 21 */
    "persistentkeepalive = 25";                                   /* 22, no newline */

static void test_full_example(void **state)
{
    struct vole_conf c;
    parse_ok(&c, FULL);

    assert_true(c.has_private_key);
    assert_key(c.private_key, PRIV);
    assert_int_equal(c.n_addresses, 2);
    assert_int_equal(c.addresses[0].family, 4);
    assert_cidr(&c.addresses[0], "10.0.0.2/24");   /* host bits kept */
    assert_int_equal(c.addresses[1].family, 6);
    assert_cidr(&c.addresses[1], "fd00::2/64");
    assert_true(c.has_listen_port);
    assert_int_equal(c.listen_port, 51820);
    assert_int_equal(c.mtu, 1420);

    assert_int_equal(c.n_peers, 2);
    struct vole_conf_peer *a = &c.peers[0], *b = &c.peers[1];
    assert_int_equal(a->line, 9);
    assert_key(a->public_key, PUB_A);
    assert_true(a->has_psk);
    assert_key(a->psk, PSK);
    assert_true(a->has_endpoint);
    assert_string_equal(a->endpoint_host, "2001:db8::1");
    assert_int_equal(a->endpoint_port, 51820);
    assert_int_equal(a->n_allowed_ips, 3);
    assert_cidr(&a->allowed_ips[0], "10.0.0.0/24");
    assert_cidr(&a->allowed_ips[1], "fd00::/64");
    assert_cidr(&a->allowed_ips[2], "192.168.1.0/24");
    assert_int_equal(a->persistent_keepalive, 0);

    assert_int_equal(b->line, 18);
    assert_key(b->public_key, PUB_B);
    assert_false(b->has_psk);
    assert_string_equal(b->endpoint_host, "vpn.example.com");
    assert_int_equal(b->endpoint_port, 443);
    assert_int_equal(b->n_allowed_ips, 2);
    assert_cidr(&b->allowed_ips[0], "0.0.0.0/0");
    assert_cidr(&b->allowed_ips[1], "::/0");
    assert_int_equal(b->persistent_keepalive, 25);

    assert_int_equal(c.n_warnings, 1);
    assert_string_equal(c.warnings[0], "t.conf:7: DNS is not used by vole; ignored");
    vole_conf_free(&c);
    assert_true(conf_is_empty(&c));
}

static void test_minimal_and_layout(void **state)
{
    struct vole_conf c;
    /* BOM, CRLF, odd case and spacing in the header, [Interface] last. */
    parse_ok(&c, "\xEF\xBB\xBF[ PEER ]\r\n\tPublicKey=" PUB_A "\r\n"
                 "AllowedIPs =\r\n"
                 "[iNtErFaCe]\r\nprivatekey=" PRIV "\r\n");
    assert_true(c.has_private_key);
    assert_false(c.has_listen_port);
    assert_int_equal(c.mtu, 0);
    assert_int_equal(c.n_addresses, 0);
    assert_int_equal(c.n_peers, 1);
    assert_int_equal(c.peers[0].line, 1);
    assert_int_equal(c.peers[0].n_allowed_ips, 0);
    assert_false(c.peers[0].has_endpoint);
    assert_int_equal(c.n_warnings, 0);
    vole_conf_free(&c);

    parse_ok(&c, IFACE);
    assert_int_equal(c.n_peers, 0);
    vole_conf_free(&c);
}

static void test_ignored_wg_quick_keys_warn(void **state)
{
    struct vole_conf c;
    parse_ok(&c, IFACE
             "DNS = 10.0.0.1\n"
             "Table = off\n"
             "PreUp = echo up\n"
             "PostUp = iptables -A FORWARD -i %i -j ACCEPT; echo a=b # c\n"
             "PostUp = second command\n"
             "PreDown = x\n"
             "PostDown = y\n"
             "SaveConfig = true\n"
             "fwmark = 0x1234\n");
    const char *want[] = { "DNS", "Table", "PreUp", "PostUp", "PostUp", "PreDown",
                           "PostDown", "SaveConfig", "FwMark" };
    assert_int_equal(c.n_warnings, 9);
    for (size_t i = 0; i < 9; i++) {
        char line[128];
        snprintf(line, sizeof(line), "t.conf:%zu: %s is not used by vole; ignored",
                 i + 3, want[i]);
        assert_string_equal(c.warnings[i], line);
    }
    vole_conf_free(&c);
}

static void test_repeated_key_replaces_with_warning(void **state)
{
    struct vole_conf c;
    parse_ok(&c, IFACE "ListenPort = 1\nListenPort = 2\nAddress = 10.0.0.1\n"
                 "Address = 10.0.0.2/32\n");
    assert_int_equal(c.listen_port, 2);
    assert_int_equal(c.n_addresses, 2);   /* lists append silently */
    assert_int_equal(c.n_warnings, 1);
    assert_string_equal(c.warnings[0],
                        "t.conf:4: ListenPort repeated; this value replaces the one on line 3");
    vole_conf_free(&c);
}

static void test_limits_accepted(void **state)
{
    struct vole_conf c;
    parse_ok(&c, IFACE "ListenPort = 0\nMTU = 576\nAddress = 10.0.0.1\n"
                 "[Peer]\nPublicKey = " PUB_A "\nPersistentKeepalive = 0\n"
                 "Endpoint = 1.2.3.4:1\n"
                 "[Peer]\nPublicKey = " PUB_B "\nPersistentKeepalive = 65535\n"
                 "Endpoint = [fe80::1%eth0]:65535\n");
    assert_true(c.has_listen_port);
    assert_int_equal(c.listen_port, 0);
    assert_int_equal(c.mtu, 576);
    assert_int_equal(c.n_warnings, 0);   /* IPv4 only: 576 is fine */
    assert_int_equal(c.peers[0].persistent_keepalive, 0);
    assert_string_equal(c.peers[0].endpoint_host, "1.2.3.4");
    assert_int_equal(c.peers[0].endpoint_port, 1);
    assert_int_equal(c.peers[1].persistent_keepalive, 65535);
    assert_string_equal(c.peers[1].endpoint_host, "fe80::1%eth0");
    assert_int_equal(c.peers[1].endpoint_port, 65535);
    vole_conf_free(&c);

    parse_ok(&c, IFACE "ListenPort = 65535\nMTU = 65535\nPostUp=x\n");
    assert_int_equal(c.listen_port, 65535);
    assert_int_equal(c.mtu, 65535);
    vole_conf_free(&c);
}

static void test_small_mtu_with_ipv6_warns(void **state)
{
    struct vole_conf c;
    parse_ok(&c, IFACE "MTU = 1279\nAddress = 10.0.0.1/24, fd00::1/64\n");
    assert_int_equal(c.n_warnings, 1);
    assert_string_equal(c.warnings[0], "t.conf:3: MTU 1279 is below 1280, the minimum "
                        "for IPv6, but an IPv6 Address is configured");
    vole_conf_free(&c);

    parse_ok(&c, IFACE "MTU = 1280\nAddress = fd00::1/64\n");
    assert_int_equal(c.n_warnings, 0);
    vole_conf_free(&c);
}

/* Enough peers and prefixes to grow every array several times. */
static void test_many_peers(void **state)
{
    size_t n = 600, cap = 200 * n;
    char *text = malloc(cap), key[VOLE_KEY_B64_LEN];
    assert_non_null(text);
    size_t len = (size_t)snprintf(text, cap, IFACE);
    for (size_t i = 0; i < n; i++) {
        uint8_t k[32] = { (uint8_t)i, (uint8_t)(i >> 8), 1 };
        vole_key_to_base64(key, k);
        len += (size_t)snprintf(text + len, cap - len,
                                "[Peer]\nPublicKey=%s\nAllowedIPs=10.%zu.%zu.0/24\n"
                                "AllowedIPs=fd00::%zx/128\n", key, i / 256, i % 256, i);
    }
    struct vole_conf c;
    parse_ok(&c, text);
    assert_int_equal(c.n_peers, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(c.peers[i].n_allowed_ips, 2);
        assert_int_equal(c.peers[i].public_key[0], (uint8_t)i);
        assert_int_equal(c.peers[i].line, 3 + 4 * i);
    }
    vole_conf_free(&c);
    free(text);
}

static void test_error_unknown_key(void **state)
{
    expect_error(IFACE "Foo = bar\n", "t.conf:3: ", "unknown key 'Foo' in [Interface]");
    expect_error(IFACE "[Peer]\nPublicKey=" PUB_A "\nDNS = 1.1.1.1\n", "t.conf:5: ",
                 "DNS belongs in [Interface], not in [Peer]");
    expect_error(IFACE "PublicKey = " PUB_A "\n", "t.conf:3: ",
                 "PublicKey belongs in [Peer], not in [Interface]");
    expect_error(IFACE "Allowed IPs = 10.0.0.0/8\n", "t.conf:3: ", "unknown key 'Allowed IPs'");
    expect_error(IFACE " = 1\n", "t.conf:3: ", "unknown key ''");
    /* Control bytes from the file are not echoed. */
    expect_error(IFACE "K\x1b[31m = 1\n", "t.conf:3: ", "unknown key 'K?[31m'");
}

static void test_error_outside_section(void **state)
{
    expect_error("PrivateKey = " PRIV "\n[Interface]\n", "t.conf:1: ", "outside a section");
    expect_error("# comment\n\nListenPort = 1\n", "t.conf:3: ", "outside a section");
}

static void test_error_sections(void **state)
{
    expect_error(IFACE "[Peers]\n", "t.conf:3: ", "unknown section [Peers]");
    expect_error(IFACE "[]\n", "t.conf:3: ", "unknown section []");
    expect_error(IFACE "[Peer\n", "t.conf:3: ", "malformed section header");
    expect_error(IFACE "[\n", "t.conf:3: ", "malformed section header");
    expect_error(IFACE "\n[Interface]\n", "t.conf:4: ",
                 "second [Interface] section; the first is on line 1");
}

static void test_error_no_equals(void **state)
{
    expect_error(IFACE "ListenPort 51820\n", "t.conf:3: ", "expected 'Key = Value'");
    expect_error("[Interface]\nPrivateKey\n", "t.conf:2: ", "expected 'Key = Value'");
}

static void test_error_bad_keys(void **state)
{
    expect_error("[Interface]\nPrivateKey = " SHORT "\n", "t.conf:2: ",
                 "PrivateKey is not a valid key");
    expect_error("[Interface]\nPrivateKey = " PRIV "x\n", "t.conf:2: ",
                 "PrivateKey is not a valid key");
    expect_error("[Interface]\nPrivateKey =\n", "t.conf:2: ", "PrivateKey is not a valid key");
    expect_error(IFACE "[Peer]\nPublicKey = " PUB_A "A\n", "t.conf:4: ",
                 "PublicKey is not a valid key");
    expect_error(IFACE "[Peer]\nPublicKey = " PUB_A "\nPresharedKey = not-base64\n",
                 "t.conf:5: ", "PresharedKey is not a valid key");
}

static void test_error_no_leak_of_key_text(void **state)
{
    struct vole_conf c;
    char err[256];
    assert_int_equal(vole_conf_parse_string(&c, "[Interface]\nPrivateKey = " SHORT "\n",
                                            "t.conf", err, sizeof(err)), -1);
    assert_null(strstr(err, "aIS/"));
}

static void test_error_bad_cidr(void **state)
{
    expect_error(IFACE "Address = 10.0.0.1/33\n", "t.conf:3: ", "'10.0.0.1/33'");
    expect_error(IFACE "Address = fd00::1/129\n", "t.conf:3: ", "'fd00::1/129'");
    expect_error(IFACE "Address = 10.0.0/24\n", "t.conf:3: ", "not an address or CIDR");
    expect_error(IFACE "Address = 10.0.0.1, garbage\n", "t.conf:3: ", "Address: 'garbage'");
    expect_error(IFACE "[Peer]\nPublicKey=" PUB_A "\nAllowedIPs = 10.0.0.0/8,,fd00::/8\n",
                 "t.conf:5: ", "AllowedIPs: ''");
    expect_error(IFACE "[Peer]\nPublicKey=" PUB_A "\nAllowedIPs = 0.0.0.0/0,\n",
                 "t.conf:5: ", "AllowedIPs: ''");
    expect_error(IFACE "[Peer]\nPublicKey=" PUB_A "\nAllowedIPs = 10.0.0.0/\n",
                 "t.conf:5: ", "AllowedIPs: '10.0.0.0/'");
}

static void test_error_ports(void **state)
{
    const char *bad[] = { "65536", "-1", "abc", "", "1 2", "0x10", "99999999999999999999" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[256];
        snprintf(text, sizeof(text), IFACE "ListenPort = %s\n", bad[i]);
        expect_error(text, "t.conf:3: ", "ListenPort must be a number from 0 to 65535");
    }
    const char *peer = IFACE "[Peer]\nPublicKey=" PUB_A "\nEndpoint = ";
    struct { const char *endpoint, *what; } cases[] = {
        { "1.2.3.4:0", "Endpoint port must be a number from 1 to 65535" },
        { "1.2.3.4:65536", "Endpoint port must be a number from 1 to 65535" },
        { "host:", "Endpoint port must be a number from 1 to 65535" },
        { "host", "Endpoint must be host:port or [IPv6]:port" },
        { "[::1]51820", "Endpoint must be host:port or [IPv6]:port" },
        { "[::1", "Endpoint must be host:port or [IPv6]:port" },
        { "2001:db8::1:51820", "an IPv6 Endpoint needs brackets" },
        { "[1.2.3.4]:1", "Endpoint in [brackets] must be an IPv6 address" },
        { "[]:1", "Endpoint in [brackets] must be an IPv6 address" },
        { "[fe80::1%]:1", "Endpoint in [brackets] must be an IPv6 address" },
        { "my host:1", "Endpoint host must be a DNS name or an IPv4 address" },
        { ":51820", "Endpoint host must be a DNS name or an IPv4 address" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[512];
        snprintf(text, sizeof(text), "%s%s\n", peer, cases[i].endpoint);
        expect_error(text, "t.conf:5: ", cases[i].what);
    }
}

static void test_endpoint_host_length(void **state)
{
    char host[300], text[600];
    struct vole_conf c;
    memset(host, 'a', 255);
    host[255] = '\0';
    snprintf(text, sizeof(text), IFACE "[Peer]\nPublicKey=" PUB_A "\nEndpoint=%s:1\n", host);
    parse_ok(&c, text);
    assert_string_equal(c.peers[0].endpoint_host, host);
    vole_conf_free(&c);

    strcat(host, "a");
    snprintf(text, sizeof(text), IFACE "[Peer]\nPublicKey=" PUB_A "\nEndpoint=%s:1\n", host);
    expect_error(text, "t.conf:5: ", "Endpoint host is longer than 255 characters");
}

static void test_error_mtu_and_keepalive(void **state)
{
    expect_error(IFACE "MTU = 575\n", "t.conf:3: ", "MTU must be a number from 576 to 65535");
    expect_error(IFACE "MTU = 65536\n", "t.conf:3: ", "MTU must be a number from 576 to 65535");
    expect_error(IFACE "MTU = 1500x\n", "t.conf:3: ", "MTU must be a number from 576 to 65535");
    expect_error(IFACE "[Peer]\nPublicKey=" PUB_A "\nPersistentKeepalive = 65536\n",
                 "t.conf:5: ", "PersistentKeepalive must be 'off'");
    expect_error(IFACE "[Peer]\nPublicKey=" PUB_A "\nPersistentKeepalive = on\n",
                 "t.conf:5: ", "PersistentKeepalive must be 'off'");
}

static void test_error_missing_private_key(void **state)
{
    expect_error("", "t.conf:0: ", "no [Interface] section with a PrivateKey");
    expect_error("# nothing\n", "t.conf:0: ", "no [Interface] section");
    expect_error("[Peer]\nPublicKey=" PUB_A "\n", "t.conf:0: ", "no [Interface] section");
    expect_error("# c\n\n[Interface]\nListenPort = 1\n", "t.conf:3: ",
                 "[Interface] has no PrivateKey");
}

static void test_error_peer_without_public_key(void **state)
{
    expect_error(IFACE "[Peer]\nAllowedIPs = 10.0.0.0/8\n[Peer]\nPublicKey=" PUB_A "\n",
                 "t.conf:3: ", "[Peer] has no PublicKey");
    expect_error(IFACE "[Peer]\nPublicKey=" PUB_A "\n\n[Peer]\n# empty\n",
                 "t.conf:6: ", "[Peer] has no PublicKey");
}

static void test_error_duplicate_peer(void **state)
{
    expect_error(IFACE "[Peer]\nPublicKey=" PUB_A "\n[Peer]\nPublicKey=" PUB_B "\n"
                 "[Peer]\nPublicKey=" PUB_A "\n[Peer]\nPublicKey=" PUB_A "\n",
                 "t.conf:7: ", "same PublicKey as the [Peer] on line 3");
}

static void test_error_long_line(void **state)
{
    size_t cap = 2 * VOLE_CONF_LINE_MAX + 64;
    char *text = malloc(cap);
    assert_non_null(text);
    struct vole_conf c;

    /* Exactly the limit is fine, also with a CRLF end. */
    strcpy(text, IFACE "#");
    memset(text + strlen(text), 'x', VOLE_CONF_LINE_MAX - 1);
    strcpy(text + strlen(IFACE) + VOLE_CONF_LINE_MAX, "\r\n");
    parse_ok(&c, text);
    vole_conf_free(&c);

    strcpy(text, IFACE "#");
    memset(text + strlen(text), 'x', VOLE_CONF_LINE_MAX);
    strcpy(text + strlen(IFACE) + VOLE_CONF_LINE_MAX + 1, "\n");
    expect_error(text, "t.conf:3: ", "line is longer than 4096 characters");
    free(text);
}

static void test_error_message_truncation(void **state)
{
    struct vole_conf c;
    char err[8];
    memset(err, 'z', sizeof(err));
    assert_int_equal(vole_conf_parse_string(&c, "x", "t.conf", err, sizeof(err)), -1);
    assert_string_equal(err, "t.conf:");
    assert_int_equal(vole_conf_parse_string(&c, "x", "t.conf", NULL, 0), -1);
    assert_int_equal(vole_conf_parse_string(&c, "x", NULL, err, 1), -1);
    assert_string_equal(err, "");
    assert_true(conf_is_empty(&c));
}

static char *write_temp(const void *data, size_t len)
{
    char *path = strdup("/tmp/vole-test-wgconf-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    return path;
}

static void test_parse_file(void **state)
{
    char *path = write_temp(FULL, sizeof(FULL) - 1);
    struct vole_conf c;
    char err[256], want[256];
    assert_int_equal(vole_conf_parse_file(&c, path, err, sizeof(err)), 0);
    assert_int_equal(c.n_peers, 2);
    snprintf(want, sizeof(want), "%s:7: DNS is not used by vole; ignored", path);
    assert_string_equal(c.warnings[0], want);
    vole_conf_free(&c);
    unlink(path);
    free(path);

    static const char nul[] = IFACE "ListenPort = 1\0 2\n";
    path = write_temp(nul, sizeof(nul) - 1);
    assert_int_equal(vole_conf_parse_file(&c, path, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s:3: line contains a NUL byte", path);
    assert_string_equal(err, want);
    unlink(path);
    free(path);
}

static void test_unreadable_file(void **state)
{
    struct vole_conf c;
    char err[256];
    assert_int_equal(vole_conf_parse_file(&c, "/nonexistent/wg0.conf", err, sizeof(err)), -1);
    assert_string_equal(err, "/nonexistent/wg0.conf:0: cannot read: No such file or directory");
    assert_true(conf_is_empty(&c));
    assert_int_equal(vole_conf_parse_file(&c, "/", err, sizeof(err)), -1);
    assert_string_equal(err, "/:0: cannot read: Is a directory");
}

static void test_cidr_parse_good(void **state)
{
    struct { const char *in, *out; uint8_t family; } cases[] = {
        { "10.0.0.0/8", "10.0.0.0/8", 4 },
        { "10.1.2.3", "10.1.2.3/32", 4 },
        { "0.0.0.0/0", "0.0.0.0/0", 4 },
        { "255.255.255.255/32", "255.255.255.255/32", 4 },
        { "::/0", "::/0", 6 },
        { "fd00::1", "fd00::1/128", 6 },
        { "2001:DB8::/32", "2001:db8::/32", 6 },
        { "::ffff:1.2.3.4/96", "::ffff:1.2.3.4/96", 6 },
        { "1:2:3:4:5:6:7:8/128", "1:2:3:4:5:6:7:8/128", 6 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct vole_cidr c;
        assert_int_equal(vole_cidr_parse(&c, cases[i].in), 0);
        assert_int_equal(c.family, cases[i].family);
        assert_cidr(&c, cases[i].out);
    }
    struct vole_cidr c;
    assert_int_equal(vole_cidr_parse(&c, "192.168.1.7/24"), 0);
    assert_int_equal(c.addr[0], 192);
    assert_int_equal(c.addr[3], 7);   /* network order, host bits kept */
    assert_int_equal(c.cidr, 24);
}

static void test_cidr_parse_bad(void **state)
{
    char longest[1100];
    memset(longest, '1', sizeof(longest) - 1);
    longest[sizeof(longest) - 1] = '\0';
    const char *bad[] = {
        "", "/24", "10.0.0.0/33", "::/129", "10.0.0/24", "10.0.0.0/", "10.0.0.0/ 8",
        " 10.0.0.0/8", "10.0.0.0/8 ", "10.0.0.0/8/8", "10.0.0.0/+8", "10.0.0.0/-0",
        "1.2.3.4/32x", "abc", "256.0.0.0/8", "1:2:3:4:5:6:7:8:9/64", "10.0.0.0/0x8",
        "fe80::1%eth0/64", "[::1]/128", "10.0.0.1/99999999999", longest,
    };
    static const struct vole_cidr zero;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct vole_cidr c;
        memset(&c, 0x5a, sizeof(c));
        if (vole_cidr_parse(&c, bad[i]) != -1)
            fail_msg("accepted \"%.40s\"", bad[i]);
        assert_memory_equal(&c, &zero, sizeof(c));
    }
}

/* Mutated copies of FULL: any outcome is fine but a crash, and an error must
 * still carry the name prefix. Deterministic so failures reproduce. */
static void test_mutations_never_crash(void **state)
{
    uint32_t x = 0x9e3779b9u;
    char text[sizeof(FULL)];
    for (int round = 0; round < 20000; round++) {
        memcpy(text, FULL, sizeof(FULL));
        for (int m = 0; m < 1 + round % 4; m++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            size_t pos = x % (sizeof(FULL) - 1);
            static const char pool[] = "=#[],:/ \n\tA0.%x\x7f\xff";
            text[pos] = pool[(x >> 16) % (sizeof(pool) - 1)];
        }
        struct vole_conf c;
        char err[128];
        if (vole_conf_parse_string(&c, text, "m.conf", err, sizeof(err)) == 0)
            vole_conf_free(&c);
        else
            assert_int_equal(strncmp(err, "m.conf:", 7), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_example),
        cmocka_unit_test(test_minimal_and_layout),
        cmocka_unit_test(test_ignored_wg_quick_keys_warn),
        cmocka_unit_test(test_repeated_key_replaces_with_warning),
        cmocka_unit_test(test_limits_accepted),
        cmocka_unit_test(test_small_mtu_with_ipv6_warns),
        cmocka_unit_test(test_many_peers),
        cmocka_unit_test(test_error_unknown_key),
        cmocka_unit_test(test_error_outside_section),
        cmocka_unit_test(test_error_sections),
        cmocka_unit_test(test_error_no_equals),
        cmocka_unit_test(test_error_bad_keys),
        cmocka_unit_test(test_error_no_leak_of_key_text),
        cmocka_unit_test(test_error_bad_cidr),
        cmocka_unit_test(test_error_ports),
        cmocka_unit_test(test_endpoint_host_length),
        cmocka_unit_test(test_error_mtu_and_keepalive),
        cmocka_unit_test(test_error_missing_private_key),
        cmocka_unit_test(test_error_peer_without_public_key),
        cmocka_unit_test(test_error_duplicate_peer),
        cmocka_unit_test(test_error_long_line),
        cmocka_unit_test(test_error_message_truncation),
        cmocka_unit_test(test_parse_file),
        cmocka_unit_test(test_unreadable_file),
        cmocka_unit_test(test_cidr_parse_good),
        cmocka_unit_test(test_cidr_parse_bad),
        cmocka_unit_test(test_mutations_never_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
