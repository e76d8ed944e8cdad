/* Interface facts (diag/ifaces.h): the default-route parsers on fixed
 * /proc text, this host's real "lo", the InterfacesReport JSON byte for
 * byte, its round trip, and the decoder's answers to bad reports. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/file.h"
#include "diag/ifaces.h"

/* ---- default routes ----------------------------------------------------------- */

static const char ROUTE_V4[] =
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
    "eth0\t00000000\t010200C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n"
    "eth0\t000200C0\t00000000\t0001\t0\t0\t600\t00FFFFFF\t0\t0\t0\n"
    "wlan0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
    "down0\t00000000\t0101A8C0\t0002\t0\t0\t5\t00000000\t0\t0\t0\n"      /* not RTF_UP */
    "rej0\t00000000\t00000000\t0201\t0\t0\t1\t00000000\t0\t0\t0\n"       /* a reject route */
    "short0\t00000000\t0101A8C0\t0003\n"                                  /* malformed: too few fields */
    "bad0\t00000000\t0101A8C0\t00zz\t0\t0\t0\t00000000\t0\t0\t0\n"       /* malformed: flags */
    "neg0\t00000000\t0101A8C0\t0003\t0\t0\t-1\t00000000\t0\t0\t0\n"      /* malformed: metric */
    "wg0\t00000000\t00000000\t0001\t0\t0\t100\t00000080\t0\t0\t0\n";     /* 0.0.0.0/1: not default */

static void test_route_v4(void **state)
{
    char out[IF_NAMESIZE];
    (void)state;

    assert_int_equal(vole_ifaces_default_route_v4(ROUTE_V4, out), 0);
    assert_string_equal(out, "wlan0");

    /* The first of equal metrics wins; no final newline is fine. */
    assert_int_equal(vole_ifaces_default_route_v4("Iface\tDestination\n"
                                                  "a\t00000000\t0\t0003\t0\t0\t7\t00000000\t0\t0\t0\n"
                                                  "b\t00000000\t0\t0003\t0\t0\t7\t00000000\t0\t0\t0",
                                                  out),
                     0);
    assert_string_equal(out, "a");

    /* None: only a header, a LAN route, an empty text, garbage. */
    static const char lan_only[] =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
        "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
    static const char *const none[] = {
        lan_only,
        "",
        "\n\n\n",
        "this is not a route table\n",
        "lo\t00000000\t00000000\t0001\t0\t0\t0\t00000000\t0\t0\t0\n",
        "averyveryverylongname\t00000000\t0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n",
    };
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
        memcpy(out, "junk", 5);
        assert_int_equal(vole_ifaces_default_route_v4(none[i], out), -1);
        assert_string_equal(out, "");
    }
    assert_int_equal(vole_ifaces_default_route_v4(NULL, out), -1);
}

#define Z32 "00000000000000000000000000000000"

static const char ROUTE_V6[] =
    "fd000000000000000000000000000000 40 " Z32 " 00 " Z32 " 00000100 00000001 00000000 00000001     eth0\n"
    Z32 " 00 " Z32 " 00 fd000000000000000000000000000001 00000400 00000003 00000000 00000003     eth0\n"
    Z32 " 00 " Z32 " 00 " Z32 " 00000200 00000001 00000000 00000001      wg0\n"
    Z32 " 00 " Z32 " 00 " Z32 " 00000000 00000001 00000000 00000201     rej1\n"   /* reject, RTF_UP */
    Z32 " 00 " Z32 " 00 " Z32 " 0000zz00 00000001 00000000 00000001     bad1\n"   /* malformed metric */
    Z32 " 00 " Z32 " 00 " Z32 " 00000000\n"                                        /* truncated */
    "00000000000000000000000000000001 80 " Z32 " 00 " Z32 " 00000000 00000004 00000000 80200001       lo\n"
    Z32 " 00 " Z32 " 00 " Z32 " ffffffff 00000001 00000000 00200200       lo\n";

static void test_route_v6(void **state)
{
    char out[IF_NAMESIZE];
    (void)state;

    /* wg0 (0x200) has the lower metric than eth0 (0x400). */
    assert_int_equal(vole_ifaces_default_route_v6(ROUTE_V6, out), 0);
    assert_string_equal(out, "wg0");

    /* The kernel's "lo" reject routes alone are no default route. */
    static const char lo_only[] =
        "00000000000000000000000000000001 80 " Z32 " 00 " Z32 " 00000000 00000004 00000000 80200001       lo\n"
        Z32 " 00 " Z32 " 00 " Z32 " ffffffff 00000001 00000000 00200200       lo\n"
        Z32 " 00 " Z32 " 00 " Z32 " ffffffff 00000001 00000000 00200201       lo\n";
    memcpy(out, "junk", 5);
    assert_int_equal(vole_ifaces_default_route_v6(lo_only, out), -1);
    assert_string_equal(out, "");

    /* ::/0 only: a /3 starting with zeros is not the default. */
    static const char not_default[] = Z32 " 03 " Z32 " 00 " Z32 " 00000001 00000001 00000000 00000001 eth0\n";
    assert_int_equal(vole_ifaces_default_route_v6(not_default, out), -1);
    assert_int_equal(vole_ifaces_default_route_v6("garbage", out), -1);
}

/* ---- the real host ------------------------------------------------------------- */

static int sysfs_mtu(const char *name)
{
    char path[64];
    int mtu = -1;
    snprintf(path, sizeof path, "/sys/class/net/%s/mtu", name);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    if (fscanf(f, "%d", &mtu) != 1)
        mtu = -1;
    fclose(f);
    return mtu;
}

static void test_read_lo(void **state)
{
    static struct vole_ifaces x;
    char err[128], ip[INET6_ADDRSTRLEN];
    const struct vole_ping_iface *lo = NULL;
    bool have_127 = false;
    (void)state;

    assert_int_equal(vole_ifaces_read(&x, err, sizeof err), 0);
    assert_true(x.n >= 1 && x.n <= VOLE_IFACES_MAX);
    for (size_t i = 0; i < x.n; i++)
        if (strcmp(x.ifaces[i].name, "lo") == 0)
            lo = &x.ifaces[i];
    assert_non_null(lo);
    if (!lo)
        return;
    assert_true(lo->up);
    assert_true(lo->mtu > 0);
    if (sysfs_mtu("lo") > 0)
        assert_int_equal(lo->mtu, sysfs_mtu("lo"));
    for (size_t k = 0; k < lo->n_addrs; k++) {
        const struct vole_ping_ifaddr *a = &lo->addrs[k];
        if (a->family == 4 && inet_ntop(AF_INET, a->addr, ip, sizeof ip) && strcmp(ip, "127.0.0.1") == 0) {
            assert_int_equal(a->prefix_len, 8);
            have_127 = true;
        }
        assert_true(a >= x.addrs && a < x.addrs + x.n_addrs);
    }
    assert_true(have_127);
    /* lo is listed (127.0.0.1 is not link-local), and its MTU is not low. */
    assert_true(vole_ping_iface_counts(lo));
    assert_false(vole_ping_iface_mtu_low(lo));

    /* The default route is what the parser says of the same table. */
    char *buf = NULL, want[IF_NAMESIZE] = "";
    size_t len = 0;
    int errnum = 0;
    if (vole_file_read("/proc/net/route", 1 << 20, &buf, &len, &errnum) == VOLE_FILE_OK &&
        vole_ifaces_default_route_v4(buf, want) == 0)
        assert_string_equal(x.default_route, want);
    vole_file_free(buf, len);
}

/* ---- the report JSON ------------------------------------------------------------- */

static struct vole_ping_ifaddr v4(const char *ip, uint8_t len)
{
    struct vole_ping_ifaddr a = { .family = 4, .prefix_len = len };
    assert_int_equal(inet_pton(AF_INET, ip, a.addr), 1);
    return a;
}

static struct vole_ping_ifaddr v6(const char *ip, uint8_t len)
{
    struct vole_ping_ifaddr a = { .family = 6, .prefix_len = len };
    assert_int_equal(inet_pton(AF_INET6, ip, a.addr), 1);
    return a;
}

static void add_iface(struct vole_ifaces *x, const char *name, int mtu, bool up, const struct vole_ping_ifaddr *a,
                      size_t n)
{
    strcpy(x->names[x->n], name);
    x->ifaces[x->n] = (struct vole_ping_iface){
        .name = x->names[x->n], .mtu = mtu, .up = up, .addrs = &x->addrs[x->n_addrs], .n_addrs = n
    };
    if (n)
        memcpy(&x->addrs[x->n_addrs], a, n * sizeof *a);
    x->n_addrs += n;
    x->n++;
}

/* wg0: 1280, warned; eth1: down; eth2: link-local only; eth0: link-local
 * and global, listed with both. */
static void fixture(struct vole_ifaces *x)
{
    struct vole_ping_ifaddr lo[] = { v4("127.0.0.1", 8), v6("::1", 128) };
    struct vole_ping_ifaddr wg[] = { v4("100.64.0.7", 32), v6("fd7a:115c:a1e0::7", 128) };
    struct vole_ping_ifaddr down[] = { v4("10.9.0.5", 24) };
    struct vole_ping_ifaddr ll[] = { v6("fe80::1", 64), v4("169.254.3.4", 16) };
    struct vole_ping_ifaddr eth[] = { v6("fe80::a00:27ff:fe4e:66a1", 64), v4("192.168.1.20", 24) };

    memset(x, 0, sizeof *x);
    add_iface(x, "lo", 65536, true, lo, 2);
    add_iface(x, "wg0", 1280, true, wg, 2);
    add_iface(x, "eth1", 1000, false, down, 1);
    add_iface(x, "eth2", 1200, true, ll, 2);
    add_iface(x, "eth0", 1500, true, eth, 2);
    add_iface(x, "dummy0", 1300, true, NULL, 0);
    strcpy(x->default_route, "eth0");
}

static const char REPORT[] =
    "{\"severity\": \"warning\", \"warnings\": [{\"code\": \"EIF01\", \"message\": \"Network interface wg0 has MTU "
    "1280 (less than 1378), which may degrade the quality of direct connections or render them unusable.\"}], "
    "\"dismissed\": false, \"interfaces\": [{\"name\": \"lo\", \"mtu\": 65536, \"addresses\": [\"127.0.0.1/8\", "
    "\"::1/128\"]}, {\"name\": \"wg0\", \"mtu\": 1280, \"addresses\": [\"100.64.0.7/32\", "
    "\"fd7a:115c:a1e0::7/128\"]}, {\"name\": \"eth0\", \"mtu\": 1500, \"addresses\": [\"fe80::a00:27ff:fe4e:66a1/64\", "
    "\"192.168.1.20/24\"]}], \"default_route_interface\": \"eth0\"}";

static char *dump(const json_t *j)
{
    char *s = json_dumps(j, JSON_PRESERVE_ORDER);
    assert_non_null(s);
    return s;
}

static void test_report_golden(void **state)
{
    static struct vole_ifaces x;
    (void)state;

    fixture(&x);
    json_t *j = vole_ifaces_report_json(&x);
    assert_non_null(j);
    char *s = dump(j);
    assert_string_equal(s, REPORT);
    free(s);
    json_decref(j);

    /* No warning: "ok"; nothing listed: an empty array; no route: "". */
    memset(&x, 0, sizeof x);
    j = vole_ifaces_report_json(&x);
    s = dump(j);
    assert_string_equal(s, "{\"severity\": \"ok\", \"warnings\": [], \"dismissed\": false, \"interfaces\": [], "
                           "\"default_route_interface\": \"\"}");
    free(s);
    json_decref(j);
}

static void test_mtu_message(void **state)
{
    char buf[256];
    (void)state;
    vole_ifaces_mtu_message(buf, sizeof buf, "utun4", 1280);
    assert_string_equal(buf, "Network interface utun4 has MTU 1280 (less than 1378), which may degrade the quality "
                             "of direct connections or render them unusable.");
}

static void test_round_trip(void **state)
{
    static struct vole_ifaces x, y;
    char err[160];
    (void)state;

    fixture(&x);
    json_t *j = vole_ifaces_report_json(&x);
    assert_int_equal(vole_ifaces_from_report_json(j, &y, err, sizeof err), 0);
    json_decref(j);

    assert_int_equal(y.n, 3);
    assert_string_equal(y.ifaces[1].name, "wg0");
    assert_int_equal(y.ifaces[1].mtu, 1280);
    assert_true(y.ifaces[1].up);
    assert_int_equal(y.ifaces[2].n_addrs, 2);
    assert_memory_equal(&y.ifaces[2].addrs[0], &x.ifaces[4].addrs[0], sizeof(struct vole_ping_ifaddr));
    assert_memory_equal(&y.ifaces[2].addrs[1], &x.ifaces[4].addrs[1], sizeof(struct vole_ping_ifaddr));
    assert_string_equal(y.default_route, "eth0");
    assert_true(vole_ping_iface_mtu_low(&y.ifaces[1]));

    j = vole_ifaces_report_json(&y);
    char *s = dump(j);
    assert_string_equal(s, REPORT);
    free(s);
    json_decref(j);

    /* The side points at the facts. */
    struct vole_ping_side side = { 0 };
    vole_ifaces_side(&y, &side);
    assert_true(side.have_ifaces);
    assert_ptr_equal(side.ifaces, y.ifaces);
    assert_int_equal(side.n_ifaces, 3);
    assert_string_equal(side.default_route_iface, "eth0");
}

/* Coder's own report: null lists, unknown fields, no default route. */
static void test_decode_coder(void **state)
{
    static struct vole_ifaces y;
    char err[160];
    (void)state;

    json_t *j = json_loads("{\"severity\":\"ok\",\"warnings\":null,\"dismissed\":false,\"error\":null,"
                           "\"interfaces\":[{\"name\":\"en0\",\"mtu\":1500,\"addresses\":null,\"extra\":[1,2]},"
                           "{\"name\":\"utun4\",\"mtu\":-1,\"addresses\":[\"2001:db8::1/64\"]}],\"future\":{}}",
                           0, NULL);
    assert_non_null(j);
    assert_int_equal(vole_ifaces_from_report_json(j, &y, err, sizeof err), 0);
    json_decref(j);
    assert_int_equal(y.n, 2);
    assert_int_equal(y.ifaces[0].n_addrs, 0);
    assert_int_equal(y.ifaces[1].mtu, -1);
    assert_int_equal(y.ifaces[1].addrs[0].family, 6);
    assert_int_equal(y.ifaces[1].addrs[0].prefix_len, 64);
    assert_string_equal(y.default_route, "");

    j = json_loads("{\"interfaces\":null}", 0, NULL);
    assert_int_equal(vole_ifaces_from_report_json(j, &y, err, sizeof err), 0);
    assert_int_equal(y.n, 0);
    json_decref(j);
}

static void expect_bad(const char *text, const char *want)
{
    static struct vole_ifaces y;
    char err[160] = "";
    json_t *j = json_loads(text, JSON_ALLOW_NUL, NULL);

    assert_non_null(j);
    memset(&y, 0x5a, sizeof y);
    assert_int_equal(vole_ifaces_from_report_json(j, &y, err, sizeof err), -1);
    assert_string_equal(err, want);
    assert_int_equal(y.n, 0);
    json_decref(j);
}

static void test_decode_bad(void **state)
{
    (void)state;
    expect_bad("[]", "not an object");
    expect_bad("{\"interfaces\":{}}", "interfaces: not an array");
    expect_bad("{\"interfaces\":[{\"name\":\"a\",\"mtu\":1},{\"name\":\"b\",\"mtu\":1},{\"name\":\"c\",\"mtu\":\"1500\"}]}",
               "interfaces[2].mtu: not an integer");
    expect_bad("{\"interfaces\":[{\"name\":\"a\",\"mtu\":1.5}]}", "interfaces[0].mtu: not an integer");
    expect_bad("{\"interfaces\":[{\"name\":\"a\"}]}", "interfaces[0].mtu: missing");
    expect_bad("{\"interfaces\":[{\"name\":\"a\",\"mtu\":4294967296}]}", "interfaces[0].mtu: out of range");
    expect_bad("{\"interfaces\":[7]}", "interfaces[0]: not an object");
    expect_bad("{\"interfaces\":[{\"name\":3,\"mtu\":1}]}", "interfaces[0].name: not a string");
    expect_bad("{\"interfaces\":[{\"mtu\":1}]}", "interfaces[0].name: missing");
    expect_bad("{\"interfaces\":[{\"name\":\"\",\"mtu\":1}]}",
               "interfaces[0].name: not an interface name (1 to 15 bytes, no NUL)");
    expect_bad("{\"interfaces\":[{\"name\":\"sixteen-bytes-xx\",\"mtu\":1}]}",
               "interfaces[0].name: not an interface name (1 to 15 bytes, no NUL)");
    expect_bad("{\"interfaces\":[{\"name\":\"a\\u0000b\",\"mtu\":1}]}",
               "interfaces[0].name: not an interface name (1 to 15 bytes, no NUL)");
    expect_bad("{\"interfaces\":[{\"name\":\"a\",\"mtu\":1,\"addresses\":\"1.2.3.4/8\"}]}",
               "interfaces[0].addresses: not an array");
    expect_bad("{\"interfaces\":[{\"name\":\"a\",\"mtu\":1,\"addresses\":[\"1.2.3.4/8\",5]}]}",
               "interfaces[0].addresses[1]: not a string");
    expect_bad("{\"interfaces\":[{\"name\":\"a\",\"mtu\":1,\"addresses\":[\"1.2.3.4/33\"]}]}",
               "interfaces[0].addresses[0]: \"1.2.3.4/33\" is not an address/prefix length");
    expect_bad("{\"interfaces\":[{\"name\":\"a\",\"mtu\":1,\"addresses\":[\"1.2.3.4\"]}]}",
               "interfaces[0].addresses[0]: \"1.2.3.4\" is not an address/prefix length");
    expect_bad("{\"interfaces\":[{\"name\":\"a\",\"mtu\":1,\"addresses\":[\"fe80::1%eth0/64\"]}]}",
               "interfaces[0].addresses[0]: \"fe80::1%eth0/64\" is not an address/prefix length");
    expect_bad("{\"interfaces\":[],\"default_route_interface\":false}", "default_route_interface: not a string");
}

/* More than the limits is an error, never an overflow. */
static void test_decode_limits(void **state)
{
    static struct vole_ifaces y;
    char err[160];
    (void)state;

    for (int n = VOLE_IFACES_MAX; n <= VOLE_IFACES_MAX + 1; n++) {
        json_t *list = json_array();
        for (int i = 0; i < n; i++)
            json_array_append_new(list, json_pack("{s:s, s:i}", "name", "x", "mtu", 1500));
        json_t *j = json_pack("{s:o}", "interfaces", list);
        int rc = vole_ifaces_from_report_json(j, &y, err, sizeof err);
        json_decref(j);
        if (n == VOLE_IFACES_MAX) {
            assert_int_equal(rc, 0);
            assert_int_equal(y.n, VOLE_IFACES_MAX);
        } else {
            assert_int_equal(rc, -1);
            assert_string_equal(err, "interfaces: 65 entries, more than 64");
        }
    }

    /* 200 addresses on each of two interfaces: 400 > 256 in all. */
    json_t *list = json_array();
    for (int i = 0; i < 2; i++) {
        json_t *addrs = json_array();
        for (int k = 0; k < 200; k++)
            json_array_append_new(addrs, json_string("10.0.0.1/8"));
        json_array_append_new(list, json_pack("{s:s, s:i, s:o}", "name", "x", "mtu", 1500, "addresses", addrs));
    }
    json_t *j = json_pack("{s:o}", "interfaces", list);
    assert_int_equal(vole_ifaces_from_report_json(j, &y, err, sizeof err), -1);
    assert_string_equal(err, "interfaces[1].addresses: more than 256 addresses in all");
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route_v4),
        cmocka_unit_test(test_route_v6),
        cmocka_unit_test(test_read_lo),
        cmocka_unit_test(test_report_golden),
        cmocka_unit_test(test_mtu_message),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_decode_coder),
        cmocka_unit_test(test_decode_bad),
        cmocka_unit_test(test_decode_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
