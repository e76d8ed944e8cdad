/* coord/tokens: the --tokens file of `vole server` (issue 5): a good file,
 * every error message (one line, naming the file and the place, never a
 * token), lookups by token and reachability by agent name. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "coord/tokens.h"

static const char GOOD[] =
    "{\"agents\": [{\"name\": \"dev\", \"token\": \"SECRET-agent-dev\"},\n"
    "              {\"name\": \"build-01\", \"token\": \"SECRET-agent-build\", \"comment\": \"ignored\"}],\n"
    " \"clients\": [{\"token\": \"SECRET-client-alice\", \"agents\": [\"dev\", \"build-01\"]},\n"
    "              {\"token\": \"SECRET-client-bob\", \"agents\": [\"build-01\"]},\n"
    "              {\"token\": \"SECRET-client-nobody\", \"agents\": []}],\n"
    " \"version\": 1}\n";

static void parse_good(struct coord_tokens *t)
{
    char err[256] = "";
    if (coord_tokens_parse(GOOD, strlen(GOOD), "tokens.json", t, err, sizeof err) != 0)
        fail_msg("parse failed: %s", err);
}

static void test_good_file(void **state)
{
    struct coord_tokens t;
    parse_good(&t);
    assert_int_equal(t.n_agents, 2);
    assert_int_equal(t.n_clients, 3);
    assert_string_equal(t.agents[0].name, "dev");
    assert_string_equal(t.agents[1].name, "build-01");
    assert_int_equal(t.clients[0].n_agents, 2);
    assert_int_equal(t.clients[2].n_agents, 0);
    coord_tokens_free(&t);
    assert_null(t.agents);
    assert_int_equal(t.n_clients, 0);
}

static void test_lookup_agent(void **state)
{
    struct coord_tokens t;
    parse_good(&t);
    const struct coord_agent_token *a = coord_tokens_agent(&t, "SECRET-agent-build");
    assert_non_null(a);
    assert_string_equal(a->name, "build-01");
    assert_string_equal(coord_tokens_agent(&t, "SECRET-agent-dev")->name, "dev");
    /* A client's token, a prefix, an extension and "" are not agent tokens. */
    assert_null(coord_tokens_agent(&t, "SECRET-client-alice"));
    assert_null(coord_tokens_agent(&t, "SECRET-agent-de"));
    assert_null(coord_tokens_agent(&t, "SECRET-agent-devX"));
    assert_null(coord_tokens_agent(&t, ""));
    coord_tokens_free(&t);
}

static void test_lookup_client_and_reach(void **state)
{
    struct coord_tokens t;
    parse_good(&t);
    const struct coord_client_token *alice = coord_tokens_client(&t, "SECRET-client-alice");
    const struct coord_client_token *bob = coord_tokens_client(&t, "SECRET-client-bob");
    const struct coord_client_token *nobody = coord_tokens_client(&t, "SECRET-client-nobody");
    assert_non_null(alice);
    assert_non_null(bob);
    assert_non_null(nobody);
    assert_null(coord_tokens_client(&t, "SECRET-agent-dev"));
    assert_null(coord_tokens_client(&t, "nope"));

    assert_true(coord_tokens_may_reach(&t, alice, "dev"));
    assert_true(coord_tokens_may_reach(&t, alice, "build-01"));
    assert_false(coord_tokens_may_reach(&t, bob, "dev"));
    assert_true(coord_tokens_may_reach(&t, bob, "build-01"));
    assert_false(coord_tokens_may_reach(&t, nobody, "dev"));
    assert_false(coord_tokens_may_reach(&t, alice, "prod"));
    assert_false(coord_tokens_may_reach(&t, alice, "de"));
    assert_false(coord_tokens_may_reach(&t, NULL, "dev"));
    coord_tokens_free(&t);
}

/* Each bad file with the exact message it must give. */
struct bad {
    const char *json;
    const char *want;
};

static const struct bad BAD[] = {
    {"{\"agents\": [{\"name\": \"dev\", \"token\": \"SECRET",
     "tokens.json: not JSON (line 1, column 44)"},
    {"[]", "tokens.json: the top level is not an object"},
    {"{\"clients\": []}", "tokens.json: missing \"agents\""},
    {"{\"agents\": []}", "tokens.json: missing \"clients\""},
    {"{\"agents\": {}, \"clients\": []}", "tokens.json: \"agents\" is not an array"},
    {"{\"agents\": [], \"clients\": 3}", "tokens.json: \"clients\" is not an array"},
    {"{\"agents\": [\"dev\"], \"clients\": []}", "tokens.json: agents[0]: is not an object"},
    {"{\"agents\": [{\"token\": \"SECRET\"}], \"clients\": []}", "tokens.json: agents[0]: missing \"name\""},
    {"{\"agents\": [{\"name\": \"dev\"}], \"clients\": []}", "tokens.json: agents[0]: missing \"token\""},
    {"{\"agents\": [{\"name\": \"dev\", \"token\": 12}], \"clients\": []}",
     "tokens.json: agents[0]: \"token\" is not a string"},
    {"{\"agents\": [{\"name\": \"dev\", \"token\": \"\"}], \"clients\": []}",
     "tokens.json: agents[0]: \"token\" is empty"},
    /* jansson refuses \u0000 itself (no JSON_ALLOW_NUL). */
    {"{\"agents\": [{\"name\": \"dev\", \"token\": \"SECRET\\u0000x\"}], \"clients\": []}",
     "tokens.json: not JSON (line 1"},
    {"{\"agents\": [{\"name\": 5, \"token\": \"SECRET\"}], \"clients\": []}",
     "tokens.json: agents[0]: agent name is not a string"},
    {"{\"agents\": [{\"name\": \"Dev\", \"token\": \"SECRET\"}], \"clients\": []}",
     "tokens.json: agents[0]: agent name \"Dev\" is not 1..63 of [a-z0-9-] (no leading or trailing -)"},
    {"{\"agents\": [{\"name\": \"\", \"token\": \"SECRET\"}], \"clients\": []}",
     "tokens.json: agents[0]: agent name \"\" is not 1..63"},
    {"{\"agents\": [{\"name\": \"-dev\", \"token\": \"SECRET\"}], \"clients\": []}",
     "tokens.json: agents[0]: agent name \"-dev\" is not"},
    {"{\"agents\": [{\"name\": \"my_box\", \"token\": \"SECRET\"}], \"clients\": []}",
     "tokens.json: agents[0]: agent name \"my_box\" is not"},
    {"{\"agents\": [{\"name\": \"a.b\", \"token\": \"SECRET\"}], \"clients\": []}",
     "tokens.json: agents[0]: agent name \"a.b\" is not"},
    {"{\"agents\": [{\"name\": \"dev\", \"token\": \"SECRET1\"}, {\"name\": \"dev\", \"token\": \"SECRET2\"}],"
     " \"clients\": []}",
     "tokens.json: agents[1]: duplicate agent name \"dev\""},
    {"{\"agents\": [{\"name\": \"a\", \"token\": \"SECRET1\"}, {\"name\": \"b\", \"token\": \"SECRET1\"}],"
     " \"clients\": []}",
     "tokens.json: agents[1]: \"token\" is the same as agents[0]'s"},
    {"{\"agents\": [{\"name\": \"a\", \"token\": \"SECRET1\"}],"
     " \"clients\": [{\"token\": \"SECRET1\", \"agents\": []}]}",
     "tokens.json: clients[0]: \"token\" is the same as agents[0]'s"},
    {"{\"agents\": [], \"clients\": [{\"token\": \"SECRET1\", \"agents\": []},"
     " {\"token\": \"SECRET1\", \"agents\": []}]}",
     "tokens.json: clients[1]: \"token\" is the same as clients[0]'s"},
    {"{\"agents\": [], \"clients\": [{\"token\": \"SECRET1\"}]}", "tokens.json: clients[0]: missing \"agents\""},
    {"{\"agents\": [], \"clients\": [{\"token\": \"SECRET1\", \"agents\": \"dev\"}]}",
     "tokens.json: clients[0]: \"agents\" is not an array"},
    {"{\"agents\": [], \"clients\": [{\"agents\": []}]}", "tokens.json: clients[0]: missing \"token\""},
    {"{\"agents\": [], \"clients\": [7]}", "tokens.json: clients[0]: is not an object"},
    {"{\"agents\": [{\"name\": \"dev\", \"token\": \"SECRET1\"}],"
     " \"clients\": [{\"token\": \"SECRET2\", \"agents\": [\"dev\", \"prod\"]}]}",
     "tokens.json: clients[0].agents[1]: unknown agent \"prod\""},
    {"{\"agents\": [{\"name\": \"dev\", \"token\": \"SECRET1\"}],"
     " \"clients\": [{\"token\": \"SECRET2\", \"agents\": [\"dev\", \"dev\"]}]}",
     "tokens.json: clients[0].agents[1]: agent \"dev\" listed twice"},
    {"{\"agents\": [], \"clients\": [{\"token\": \"SECRET2\", \"agents\": [null]}]}",
     "tokens.json: clients[0].agents[0]: agent name is not a string"},
    /* A duplicated key would make one of two tokens silently win. */
    {"{\"agents\": [], \"agents\": [], \"clients\": []}", "tokens.json: not JSON (line 1"},
};

static void test_bad_files(void **state)
{
    for (size_t i = 0; i < sizeof BAD / sizeof *BAD; i++) {
        struct coord_tokens t;
        char err[256] = "";
        int rc = coord_tokens_parse(BAD[i].json, strlen(BAD[i].json), "tokens.json", &t, err, sizeof err);
        if (rc != -1)
            fail_msg("case %zu parsed: %s", i, BAD[i].json);
        if (strncmp(err, BAD[i].want, strlen(BAD[i].want)) != 0)
            fail_msg("case %zu: got \"%s\", want \"%s\"", i, err, BAD[i].want);
        if (strchr(err, '\n') || strstr(err, "SECRET"))
            fail_msg("case %zu: message is not one line or shows a token: %s", i, err);
        assert_null(t.agents);
        assert_null(t.clients);
        assert_int_equal(t.n_agents + t.n_clients, 0);
    }
}

static void test_name_rules(void **state)
{
    char n63[64], n64[65];
    memset(n63, 'a', 63);
    n63[63] = '\0';
    memset(n64, 'a', 64);
    n64[64] = '\0';
    assert_true(coord_agent_name_valid("dev"));
    assert_true(coord_agent_name_valid("0"));
    assert_true(coord_agent_name_valid("a-b-9"));
    assert_true(coord_agent_name_valid(n63));
    assert_false(coord_agent_name_valid(n64));
    assert_false(coord_agent_name_valid(""));
    assert_false(coord_agent_name_valid("dev-"));
    assert_false(coord_agent_name_valid("DEV"));
    assert_false(coord_agent_name_valid("d ev"));
}

static void test_too_long_token(void **state)
{
    size_t n = COORD_TOKEN_MAX_LEN + 1;
    char *json = malloc(n + 128), err[256] = "";
    int off = snprintf(json, 128, "{\"agents\": [{\"name\": \"dev\", \"token\": \"");
    memset(json + off, 'S', n);
    strcpy(json + off + n, "\"}], \"clients\": []}");
    struct coord_tokens t;
    assert_int_equal(coord_tokens_parse(json, strlen(json), "t.json", &t, err, sizeof err), -1);
    assert_string_equal(err, "t.json: agents[0]: \"token\" is longer than 1024 bytes");
    json[off + n - 1] = '\0';   /* exactly 1024 is fine */
    strcpy(json + off + n - 1, "\"}], \"clients\": []}");
    assert_int_equal(coord_tokens_parse(json, strlen(json), "t.json", &t, err, sizeof err), 0);
    coord_tokens_free(&t);
    free(json);
}

static void test_load_file(void **state)
{
    char path[] = "/tmp/vole-tokens-XXXXXX", err[256] = "";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, GOOD, strlen(GOOD)), (ssize_t)strlen(GOOD));
    close(fd);
    struct coord_tokens t;
    assert_int_equal(coord_tokens_load(path, &t, err, sizeof err), 0);
    assert_string_equal(coord_tokens_agent(&t, "SECRET-agent-dev")->name, "dev");
    coord_tokens_free(&t);

    fd = open(path, O_WRONLY | O_TRUNC);
    assert_int_equal(write(fd, "{\"agents\": []}", 14), 14);
    close(fd);
    assert_int_equal(coord_tokens_load(path, &t, err, sizeof err), -1);
    char want[128];
    snprintf(want, sizeof want, "%s: missing \"clients\"", path);
    assert_string_equal(err, want);
    unlink(path);

    assert_int_equal(coord_tokens_load(path, &t, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path);
    assert_string_equal(err, want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_file),
        cmocka_unit_test(test_lookup_agent),
        cmocka_unit_test(test_lookup_client_and_reach),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_name_rules),
        cmocka_unit_test(test_too_long_token),
        cmocka_unit_test(test_load_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
