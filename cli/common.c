#include "cli/common.h"

#include "conf/bool.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_load_conf(const char *cmd, const char *path, struct vole_conf *conf)
{
    char err[512];

    if (vole_conf_parse_file(conf, path, err, sizeof err) < 0) {
        fprintf(stderr, "vole %s: %s\n", cmd, err);
        return -1;
    }
    for (size_t i = 0; i < conf->n_warnings; i++)
        fprintf(stderr, "vole %s: warning: %s\n", cmd, conf->warnings[i]);
    return 0;
}

void cli_log(void *ctx, const char *msg)
{
    fprintf(stderr, "vole %s: %s\n", (const char *)ctx, msg);
}

static ev_signal sigint_w, sigterm_w;
static bool signalled;

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)w;
    (void)revents;
    signalled = true;
    ev_break(loop, EVBREAK_ALL);
}

void cli_stop_on_signals(struct ev_loop *loop)
{
    /* Process-wide by nature: signals are, so these two watchers are the
     * CLI's only statics. */
    ev_signal_init(&sigint_w, on_signal, SIGINT);
    ev_signal_init(&sigterm_w, on_signal, SIGTERM);
    ev_signal_start(loop, &sigint_w);
    ev_signal_start(loop, &sigterm_w);
    ev_unref(loop);
    ev_unref(loop);
}

bool cli_signalled(void)
{
    return signalled;
}

int cli_env_bool(const char *cmd, const char *name, bool *out)
{
    const char *v = getenv(name);

    if (!v || !*v)
        return 0;
    if (vole_parse_bool(v, out) == 0)
        return 0;
    fprintf(stderr, "vole %s: %s=\"%s\": want true or false\n", cmd, name, v);
    return -1;
}
