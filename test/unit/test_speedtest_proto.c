/* The speedtest protocol core and its output, sans-IO: handshake lines with
 * fixed bytes, block/interval accounting on simulated time, and golden
 * table and JSON text (diag/speedtest.h, diag/speedtest_format.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "diag/speedtest.h"
#include "diag/speedtest_format.h"

#define MS 1000000ULL
#define BLOCK VOLE_SPEEDTEST_BLOCK

/* ---- handshake ------------------------------------------------------------ */

static void test_config_encode(void **state)
{
    struct vole_speedtest_config c = { VOLE_SPEEDTEST_VERSION, 5000000000LL, VOLE_SPEEDTEST_DOWNLOAD };
    char buf[128];
    (void)state;

    assert_int_equal(vole_speedtest_config_encode(&c, buf, sizeof buf), 46);
    assert_string_equal(buf, "{\"version\":2,\"time\":5000000000,\"direction\":0}\n");
    c.direction = VOLE_SPEEDTEST_UPLOAD;
    c.time_ns = 1500000000LL;
    vole_speedtest_config_encode(&c, buf, sizeof buf);
    assert_string_equal(buf, "{\"version\":2,\"time\":1500000000,\"direction\":1}\n");
    assert_int_equal(vole_speedtest_config_encode(&c, buf, 10), 0);
}

static void decode_bad(const char *line, const char *want)
{
    struct vole_speedtest_config c;
    char err[256] = "";

    assert_int_equal(vole_speedtest_config_decode(line, strlen(line), &c, err, sizeof err), -1);
    if (!strstr(err, want))
        fail_msg("%s: error \"%s\" does not say \"%s\"", line, err, want);
}

static void test_config_decode(void **state)
{
    const char *line = "{\"version\":2,\"time\":5000000000,\"direction\":1}\n";
    struct vole_speedtest_config c;
    char err[256] = "";
    (void)state;

    assert_int_equal(vole_speedtest_config_decode(line, strlen(line), &c, err, sizeof err), 0);
    assert_int_equal(c.version, 2);
    assert_int_equal(c.time_ns, 5000000000LL);
    assert_int_equal(c.direction, VOLE_SPEEDTEST_UPLOAD);
    /* Go ignores unknown fields and takes any order. */
    line = "{\"direction\":0,\"extra\":\"x\",\"time\":30000000000,\"version\":2}";
    assert_int_equal(vole_speedtest_config_decode(line, strlen(line), &c, err, sizeof err), 0);
    assert_int_equal(c.time_ns, 30000000000LL);

    decode_bad("{\"version\":1,\"time\":5000000000,\"direction\":0}\n",
               "version mismatch! Server is version 2, client is version 1");
    decode_bad("{\"time\":5000000000,\"direction\":0}", "client is version 0");
    decode_bad("{\"version\":2,\"time\":5000000000,\"direction\":2}", "direction 2");
    decode_bad("{\"version\":2,\"time\":0,\"direction\":0}", "time 0ns");
    decode_bad("{\"version\":2,\"time\":30000000001,\"direction\":0}", "not within 1ns..30s");
    decode_bad("{\"version\":2,\"time\":\"5s\",\"direction\":0}", "\"time\" is not an integer");
    decode_bad("[2]", "not a JSON object");
    decode_bad("{\"version\":2,", "bad config: ");
    decode_bad("", "bad config: ");
}

static void test_response(void **state)
{
    char buf[128], err[256] = "";
    (void)state;

    assert_int_equal(vole_speedtest_response_encode(NULL, buf, sizeof buf), 3);
    assert_string_equal(buf, "{}\n");
    assert_int_equal(vole_speedtest_response_decode(buf, 3, err, sizeof err), 0);
    vole_speedtest_response_encode("version mismatch! Server is version 2, client is version 3", buf, sizeof buf);
    assert_string_equal(buf, "{\"error\":\"version mismatch! Server is version 2, client is version 3\"}\n");
    assert_int_equal(vole_speedtest_response_decode(buf, strlen(buf), err, sizeof err), -1);
    assert_string_equal(err, "version mismatch! Server is version 2, client is version 3");
    vole_speedtest_response_encode("say \"hi\"", buf, sizeof buf);
    assert_string_equal(buf, "{\"error\":\"say \\\"hi\\\"\"}\n");
    assert_int_equal(vole_speedtest_response_encode("long", buf, 4), 0);
    /* An empty error is Go's omitted one. */
    assert_int_equal(vole_speedtest_response_decode("{\"error\":\"\"}", 12, err, sizeof err), 0);
    assert_int_equal(vole_speedtest_response_decode("{\"error\":5}", 11, err, sizeof err), -1);
    assert_string_equal(err, "bad answer from the server: \"error\" is not a string");
    assert_int_equal(vole_speedtest_response_decode("HTTP/1.1 400", 12, err, sizeof err), -1);
    assert_non_null(strstr(err, "bad answer from the server: "));
}

static void test_line_feed(void **state)
{
    struct vole_speedtest_line l = { .len = 0 };
    const uint8_t a[] = "{\"vers", b[] = "ion\":2}\nDATA";
    uint8_t big[VOLE_SPEEDTEST_LINE_MAX + 1];
    (void)state;

    assert_int_equal(vole_speedtest_line_feed(&l, a, 6), 6);
    assert_false(l.done);
    /* The bytes after '\n' are left for the data phase. */
    assert_int_equal(vole_speedtest_line_feed(&l, b, 12), 8);
    assert_true(l.done);
    assert_string_equal(l.buf, "{\"version\":2}\n");
    assert_int_equal(vole_speedtest_line_feed(&l, b, 12), 0);

    memset(&l, 0, sizeof l);
    memset(big, 'x', sizeof big);
    assert_int_equal(vole_speedtest_line_feed(&l, big, sizeof big), -1);
}

/* ---- accounting ----------------------------------------------------------- */

static void check(const struct vole_speedtest_result *r, uint64_t blocks, uint64_t start_ms, uint64_t end_ms,
                  bool total)
{
    assert_int_equal(r->bytes, blocks * BLOCK);
    assert_int_equal(r->start_ns, start_ms * MS);
    assert_int_equal(r->end_ns, end_ms * MS);
    assert_int_equal(r->total, total);
}

/* A receiver getting a block every 300 ms, in pieces: intervals close on the
 * first block 1 s or more after the last, the partial last block is not
 * counted, and the end time is the last whole block's. */
static void test_receiver_intervals(void **state)
{
    struct vole_speedtest_meter *m = malloc(sizeof *m);
    (void)state;

    assert_non_null(m);
    vole_speedtest_meter_start(m, false, 5000 * MS, 0);
    for (uint64_t i = 1; i <= 9; i++) {
        vole_speedtest_meter_add(m, BLOCK / 2, i * 300 * MS - 1);
        vole_speedtest_meter_add(m, BLOCK / 2, i * 300 * MS);
    }
    assert_int_equal(m->n_results, 2);
    check(&m->results[0], 4, 0, 1200, false);
    check(&m->results[1], 4, 1200, 2400, false);
    vole_speedtest_meter_add(m, BLOCK - 1, 3000 * MS);   /* EOF before the block ends */
    assert_int_equal(vole_speedtest_meter_room(m), 1);
    vole_speedtest_meter_finish(m);
    vole_speedtest_meter_finish(m);
    assert_int_equal(m->n_results, 4);
    check(&m->results[2], 1, 2400, 2700, false);
    check(&m->results[3], 9, 0, 2700, true);
    assert_false(m->stopped);
    /* Bytes after the end change nothing. */
    vole_speedtest_meter_add(m, 5 * BLOCK, 9000 * MS);
    assert_int_equal(m->n_results, 4);
    free(m);
}

/* Several blocks in one read: each is one of Go's ReadFull calls at the same
 * time, so the first closes the interval and the rest start the next. */
static void test_receiver_big_read(void **state)
{
    struct vole_speedtest_meter *m = malloc(sizeof *m);
    (void)state;

    assert_non_null(m);
    vole_speedtest_meter_start(m, false, 1000 * MS, 100 * MS);
    vole_speedtest_meter_add(m, 3 * BLOCK + 5, 1600 * MS);
    assert_int_equal(m->n_results, 1);
    check(&m->results[0], 1, 100, 1600, false);
    vole_speedtest_meter_finish(m);
    assert_int_equal(m->n_results, 2);   /* the 0 ns rest is no interval */
    check(&m->results[1], 3, 100, 1600, true);
    free(m);
}

/* A sender writing a block every 400 ms with a 1 s duration stops after the
 * block that ends past 1 s; room never lets a write cross a block. */
static void test_sender_stops(void **state)
{
    struct vole_speedtest_meter *m = malloc(sizeof *m);
    uint64_t t = 0;
    (void)state;

    assert_non_null(m);
    vole_speedtest_meter_start(m, true, 1000 * MS, 0);
    assert_int_equal(vole_speedtest_meter_room(m), BLOCK);
    vole_speedtest_meter_add(m, 1000, 1 * MS);
    assert_int_equal(vole_speedtest_meter_room(m), BLOCK - 1000);
    vole_speedtest_meter_add(m, BLOCK - 1000, 400 * MS);
    for (t = 800; !m->stopped && t < 5000; t += 400)
        vole_speedtest_meter_add(m, BLOCK, t * MS);
    assert_int_equal(t, 1600);   /* stopped by the block ending at 1200 ms */
    assert_int_equal(vole_speedtest_meter_room(m), 0);
    assert_int_equal(m->n_results, 1);
    check(&m->results[0], 3, 0, 1200, false);
    vole_speedtest_meter_finish(m);
    assert_int_equal(m->n_results, 2);
    check(&m->results[1], 3, 0, 1200, true);
    free(m);
}

/* The 10 ms rules: a last fragment of exactly 10 ms, and a test that never
 * completed a block, give nothing. */
static void test_min_interval(void **state)
{
    struct vole_speedtest_meter *m = malloc(sizeof *m);
    (void)state;

    assert_non_null(m);
    vole_speedtest_meter_start(m, false, 5000 * MS, 0);
    vole_speedtest_meter_add(m, BLOCK, 1000 * MS);
    vole_speedtest_meter_add(m, BLOCK, 1010 * MS);
    vole_speedtest_meter_finish(m);
    assert_int_equal(m->n_results, 2);
    check(&m->results[0], 1, 0, 1000, false);
    check(&m->results[1], 2, 0, 1010, true);

    vole_speedtest_meter_start(m, false, 5000 * MS, 0);
    vole_speedtest_meter_add(m, BLOCK, 1000 * MS);
    vole_speedtest_meter_add(m, BLOCK, 1011 * MS);
    vole_speedtest_meter_finish(m);
    assert_int_equal(m->n_results, 3);
    check(&m->results[1], 1, 1000, 1011, false);

    vole_speedtest_meter_start(m, false, 5000 * MS, 0);
    vole_speedtest_meter_add(m, BLOCK - 1, 3000 * MS);
    vole_speedtest_meter_finish(m);
    assert_int_equal(m->n_results, 0);
    free(m);
}

/* ---- output ----------------------------------------------------------------- */

static void test_go_float(void **state)
{
    char b[VOLE_GO_FLOAT_STR_MAX];
    (void)state;

    assert_string_equal(vole_go_json_float(b, 0), "0");
    assert_string_equal(vole_go_json_float(b, 1), "1");
    assert_string_equal(vole_go_json_float(b, 100), "100");
    assert_string_equal(vole_go_json_float(b, 1.0028), "1.0028");
    assert_string_equal(vole_go_json_float(b, 911.9), "911.9");
    assert_string_equal(vole_go_json_float(b, 0.1 + 0.2), "0.30000000000000004");
    assert_string_equal(vole_go_json_float(b, 0.000001), "0.000001");
    assert_string_equal(vole_go_json_float(b, 0.0000001), "1e-7");
    assert_string_equal(vole_go_json_float(b, 1.5e21), "1.5e+21");
    assert_string_equal(vole_go_json_float(b, 123456789012.5), "123456789012.5");
    assert_string_equal(vole_go_json_float(b, -2.5), "-2.5");
    assert_string_equal(vole_go_json_float(b, 16.777216), "16.777216");
    assert_true(vole_go_seconds(1002834112) == 1.002834112);
}

/* Fixed results: 630.784 Mbit in 1.000069 s, and so on (expected numbers
 * from Python, whose repr is the same shortest round-trip text as Go's). */
static const struct vole_speedtest_result FIXED[] = {
    { 78848000, 1000 * MS, 2000 * MS + 69000, false },
    { 78848000, 2000 * MS + 69000, 3000 * MS, false },
    { 39424000, 3000 * MS, 3500 * MS, false },
    { 197120000, 1000 * MS, 3500 * MS, true },
};

static void test_table_golden(void **state)
{
    char b[VOLE_SPEEDTEST_LINE_STR_MAX];
    (void)state;

    assert_string_equal(vole_speedtest_starting_line(b, 5000000000LL, VOLE_SPEEDTEST_DOWNLOAD),
                        "Starting a 5s download test...");
    assert_string_equal(vole_speedtest_starting_line(b, 2500000000LL, VOLE_SPEEDTEST_UPLOAD),
                        "Starting a 2s upload test...");
    assert_string_equal(vole_speedtest_table_header(b), "INTERVAL       TRANSFER         BANDWIDTH           ");
    assert_string_equal(vole_speedtest_table_row(b, &FIXED[0], FIXED[0].start_ns),
                        "0.00-1.00 sec  630.7840 MBits   630.7405 Mbits/sec  ");
    assert_string_equal(vole_speedtest_table_row(b, &FIXED[1], FIXED[0].start_ns),
                        "1.00-2.00 sec  630.7840 MBits   630.8275 Mbits/sec  ");
    assert_string_equal(vole_speedtest_table_row(b, &FIXED[2], FIXED[0].start_ns),
                        "2.00-2.50 sec  315.3920 MBits   630.7840 Mbits/sec  ");
    assert_string_equal(vole_speedtest_table_separator(b),
                        "----------------------------------------------------");
    assert_string_equal(vole_speedtest_table_row(b, &FIXED[3], FIXED[0].start_ns),
                        "0.00-2.50 sec  1576.9600 MBits  630.7840 Mbits/sec  ");
}

static void test_json_golden(void **state)
{
    char *j = vole_speedtest_json(FIXED, 4);
    (void)state;

    assert_non_null(j);
    assert_string_equal(j, "{\n"
                           "  \"overall\": {\n"
                           "    \"start_time_seconds\": 0,\n"
                           "    \"end_time_seconds\": 2.5,\n"
                           "    \"throughput_mbits\": 630.784\n"
                           "  },\n"
                           "  \"intervals\": [\n"
                           "    {\n"
                           "      \"start_time_seconds\": 0,\n"
                           "      \"end_time_seconds\": 1.000069,\n"
                           "      \"throughput_mbits\": 630.7404789069553\n"
                           "    },\n"
                           "    {\n"
                           "      \"start_time_seconds\": 1.000069,\n"
                           "      \"end_time_seconds\": 2,\n"
                           "      \"throughput_mbits\": 630.8275270993698\n"
                           "    },\n"
                           "    {\n"
                           "      \"start_time_seconds\": 2,\n"
                           "      \"end_time_seconds\": 2.5,\n"
                           "      \"throughput_mbits\": 630.784\n"
                           "    }\n"
                           "  ]\n"
                           "}\n");
    free(j);
    j = vole_speedtest_json(NULL, 0);
    assert_non_null(j);
    assert_string_equal(j, "{\n  \"overall\": {\n    \"start_time_seconds\": 0,\n    \"end_time_seconds\": 0,\n"
                           "    \"throughput_mbits\": 0\n  },\n  \"intervals\": []\n}\n");
    free(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_encode),   cmocka_unit_test(test_config_decode),
        cmocka_unit_test(test_response),        cmocka_unit_test(test_line_feed),
        cmocka_unit_test(test_receiver_intervals), cmocka_unit_test(test_receiver_big_read),
        cmocka_unit_test(test_sender_stops),    cmocka_unit_test(test_min_interval),
        cmocka_unit_test(test_go_float),        cmocka_unit_test(test_table_golden),
        cmocka_unit_test(test_json_golden),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
