/* mbedTLS 2.28 sessions for io/stream; see tls.h. TLS 1.2 is the floor on
 * both sides (derper's MinVersion; mbedTLS 2.28 has no TLS 1.3 to offer). */
#include "io/tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#define ERR_TEXT 160

/* Entropy and a DRBG seeded from it: one per server, one per client session. */
struct tls_rng {
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
};

struct vole_tls_server {
    int refs;               /* the owner's, plus one per live session */
    struct tls_rng rng;
    mbedtls_x509_crt chain;
    mbedtls_pk_context key;
    mbedtls_ssl_config conf;
    const char *alpn[2];    /* mbedTLS keeps the pointer: it must live here */
};

/* A client's own configuration: the CA chain and verification differ per dial. */
struct tls_client_conf {
    struct tls_rng rng;
    mbedtls_x509_crt ca;
    mbedtls_ssl_config conf;
    const char *alpn[2];
};

struct vole_tls {
    mbedtls_ssl_context ssl;
    struct tls_client_conf *client;   /* owned; NULL for server sessions */
    struct vole_tls_server *server;   /* a reference; NULL for clients */
    int fd;
    size_t inflight;                  /* length of the write mbedTLS holds after a WANT */
    uint64_t sent;
    int sock_errno;                   /* of the last failed send/recv */
    char err[ERR_TEXT];
};

/* ---- helpers ----------------------------------------------------------- */

static void mbed_text(char *out, size_t n, const char *what, int ret)
{
    char e[100];
    mbedtls_strerror(ret, e, sizeof e);
    snprintf(out, n, "%s: %s", what, e);
}

static int rng_init(struct tls_rng *r, const char *pers)
{
    mbedtls_entropy_init(&r->entropy);
    mbedtls_ctr_drbg_init(&r->drbg);
    return mbedtls_ctr_drbg_seed(&r->drbg, mbedtls_entropy_func, &r->entropy, (const unsigned char *)pers,
                                 strlen(pers));
}

static void rng_free(struct tls_rng *r)
{
    mbedtls_ctr_drbg_free(&r->drbg);
    mbedtls_entropy_free(&r->entropy);
}

/* The socket side of mbedTLS: non-blocking send/recv; EAGAIN becomes WANT_*. */
static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    struct vole_tls *t = ctx;
    ssize_t n = send(t->fd, buf, len, MSG_NOSIGNAL);
    if (n >= 0) {
        t->sent += (uint64_t)n;
        return (int)n;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return MBEDTLS_ERR_SSL_WANT_WRITE;
    t->sock_errno = errno;
    return MBEDTLS_ERR_NET_SEND_FAILED;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    struct vole_tls *t = ctx;
    ssize_t n = recv(t->fd, buf, len, 0);
    if (n >= 0)
        return (int)n;   /* 0: EOF, which mbedTLS reports as CONN_EOF */
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return MBEDTLS_ERR_SSL_WANT_READ;
    t->sock_errno = errno;
    return MBEDTLS_ERR_NET_RECV_FAILED;
}

/* Names a failure: the socket's errno, the verification flags, or mbedTLS's text. */
static void describe(struct vole_tls *t, int ret)
{
    if ((ret == MBEDTLS_ERR_NET_SEND_FAILED || ret == MBEDTLS_ERR_NET_RECV_FAILED) && t->sock_errno) {
        snprintf(t->err, sizeof t->err, "tls: %s: %s", ret == MBEDTLS_ERR_NET_SEND_FAILED ? "send" : "recv",
                 strerror(t->sock_errno));
    } else if (ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
        char info[120] = "";
        mbedtls_x509_crt_verify_info(info, sizeof info, "", mbedtls_ssl_get_verify_result(&t->ssl));
        info[strcspn(info, "\n")] = '\0';   /* the first reason is enough for a log line */
        snprintf(t->err, sizeof t->err, "tls: certificate verify failed: %s", info);
    } else {
        mbed_text(t->err, sizeof t->err, "tls", ret);
    }
}

static enum vole_tls_io classify(struct vole_tls *t, int ret)
{
    switch (ret) {
    case MBEDTLS_ERR_SSL_WANT_READ:
        return VOLE_TLS_WANT_READ;
    case MBEDTLS_ERR_SSL_WANT_WRITE:
        return VOLE_TLS_WANT_WRITE;
    case 0:
    case MBEDTLS_ERR_SSL_CONN_EOF:
    case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY:
        return VOLE_TLS_EOF;
    default:
        describe(t, ret);
        return VOLE_TLS_FAIL;
    }
}

/* Settings both sides share. */
static int conf_common(mbedtls_ssl_config *conf, int endpoint, struct tls_rng *rng, const char **alpn)
{
    int ret = mbedtls_ssl_config_defaults(conf, endpoint, MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
    if (ret != 0)
        return ret;
    mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_rng(conf, mbedtls_ctr_drbg_random, &rng->drbg);
    /* Renegotiation stays off (the default): it is what could make a read
     * want to write or a write want to read. */
    mbedtls_ssl_conf_renegotiation(conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
    return alpn ? mbedtls_ssl_conf_alpn_protocols(conf, alpn) : 0;
}

/* ---- server credentials ------------------------------------------------ */

static void server_release(struct vole_tls_server *t)
{
    if (!t || --t->refs > 0)
        return;
    mbedtls_ssl_config_free(&t->conf);
    mbedtls_pk_free(&t->key);
    mbedtls_x509_crt_free(&t->chain);
    rng_free(&t->rng);
    free(t);
}

static int server_load(struct vole_tls_server *t, const char *cert_file, const char *key_file, char *err,
                       size_t errlen)
{
    int ret = mbedtls_x509_crt_parse_file(&t->chain, cert_file);
    if (ret != 0) {
        mbed_text(err, errlen, cert_file, ret);
        return -1;
    }
    ret = mbedtls_pk_parse_keyfile(&t->key, key_file, NULL);
    if (ret != 0) {
        mbed_text(err, errlen, key_file, ret);
        return -1;
    }
    if (mbedtls_pk_check_pair(&t->chain.pk, &t->key) != 0) {
        snprintf(err, errlen, "%s: the key does not match the certificate %s", key_file, cert_file);
        return -1;
    }
    return 0;
}

struct vole_tls_server *vole_tls_server_new(const char *cert_file, const char *key_file, char *err, size_t errlen)
{
    struct vole_tls_server *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->refs = 1;
    mbedtls_x509_crt_init(&t->chain);
    mbedtls_pk_init(&t->key);
    mbedtls_ssl_config_init(&t->conf);
    t->alpn[0] = "http/1.1";   /* chosen only when the client offers it */
    int ret = rng_init(&t->rng, "vole-tls-server");
    if (ret != 0) {
        mbed_text(err, errlen, "tls rng", ret);
        server_release(t);
        return NULL;
    }
    if (server_load(t, cert_file, key_file, err, errlen) != 0) {
        server_release(t);
        return NULL;
    }
    ret = conf_common(&t->conf, MBEDTLS_SSL_IS_SERVER, &t->rng, t->alpn);
    if (ret == 0)
        ret = mbedtls_ssl_conf_own_cert(&t->conf, &t->chain, &t->key);
    if (ret != 0) {
        mbed_text(err, errlen, "tls config", ret);
        server_release(t);
        return NULL;
    }
    return t;
}

void vole_tls_server_free(struct vole_tls_server *t)
{
    server_release(t);
}

/* ---- sessions ---------------------------------------------------------- */

static struct vole_tls *session_new(int fd)
{
    struct vole_tls *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->fd = fd;
    mbedtls_ssl_init(&t->ssl);
    return t;
}

static int session_setup(struct vole_tls *t, const mbedtls_ssl_config *conf)
{
    int ret = mbedtls_ssl_setup(&t->ssl, conf);
    if (ret == 0)
        mbedtls_ssl_set_bio(&t->ssl, t, bio_send, bio_recv, NULL);
    return ret;
}

struct vole_tls *vole_tls_server_session(int fd, struct vole_tls_server *srv)
{
    struct vole_tls *t = session_new(fd);
    if (!t)
        return NULL;
    t->server = srv;
    srv->refs++;
    if (session_setup(t, &srv->conf) != 0) {
        vole_tls_free(t);
        return NULL;
    }
    return t;
}

static void client_conf_free(struct tls_client_conf *c)
{
    if (!c)
        return;
    mbedtls_ssl_config_free(&c->conf);
    mbedtls_x509_crt_free(&c->ca);
    rng_free(&c->rng);
    free(c);
}

/* The trust anchors: the system bundle may hold a few certificates mbedTLS
 * cannot parse (a positive return); any parsed one is enough to go on. */
static int load_ca(mbedtls_x509_crt *ca, const char *file, char *err, size_t errlen)
{
    int ret = mbedtls_x509_crt_parse_file(ca, file);
    if (ret < 0 || ca->version == 0) {
        if (ret < 0)
            mbed_text(err, errlen, file, ret);
        else
            snprintf(err, errlen, "%s: no usable CA certificate", file);
        return -1;
    }
    return 0;
}

static struct tls_client_conf *client_conf_new(const struct vole_tls_client_config *cfg, char *err, size_t errlen)
{
    struct tls_client_conf *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    mbedtls_x509_crt_init(&c->ca);
    mbedtls_ssl_config_init(&c->conf);
    c->alpn[0] = "http/1.1";
    int ret = rng_init(&c->rng, "vole-tls-client");
    if (ret == 0)
        ret = conf_common(&c->conf, MBEDTLS_SSL_IS_CLIENT, &c->rng, cfg->alpn_http11 ? c->alpn : NULL);
    if (ret != 0) {
        mbed_text(err, errlen, "tls config", ret);
        client_conf_free(c);
        return NULL;
    }
    if (cfg->insecure) {
        mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_NONE);
        return c;
    }
    if (load_ca(&c->ca, cfg->ca_file ? cfg->ca_file : VOLE_TLS_SYSTEM_CA, err, errlen) != 0) {
        client_conf_free(c);
        return NULL;
    }
    mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&c->conf, &c->ca, NULL);
    return c;
}

struct vole_tls *vole_tls_client_new(int fd, const struct vole_tls_client_config *cfg, char *err, size_t errlen)
{
    /* mbedTLS 2.28 verifies a chain without a name when none is set: refuse
     * that rather than accept any certificate some CA signed. */
    if (!cfg->insecure && (!cfg->server_name || !cfg->server_name[0])) {
        snprintf(err, errlen, "tls: a server name is needed to verify the certificate");
        return NULL;
    }
    struct vole_tls *t = session_new(fd);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->client = client_conf_new(cfg, err, errlen);
    if (!t->client) {
        vole_tls_free(t);
        return NULL;
    }
    int ret = session_setup(t, &t->client->conf);
    if (ret == 0 && cfg->server_name && cfg->server_name[0])
        ret = mbedtls_ssl_set_hostname(&t->ssl, cfg->server_name);   /* SNI and the name check */
    if (ret != 0) {
        mbed_text(err, errlen, "tls setup", ret);
        vole_tls_free(t);
        return NULL;
    }
    return t;
}

void vole_tls_free(struct vole_tls *t)
{
    if (!t)
        return;
    mbedtls_ssl_free(&t->ssl);   /* before its config */
    client_conf_free(t->client);
    server_release(t->server);
    free(t);
}

/* ---- I/O --------------------------------------------------------------- */

enum vole_tls_io vole_tls_handshake(struct vole_tls *t)
{
    int ret = mbedtls_ssl_handshake(&t->ssl);
    if (ret == 0)
        return VOLE_TLS_OK;
    enum vole_tls_io r = classify(t, ret);
    if (r == VOLE_TLS_EOF) {   /* EOF before the handshake finished is a failure */
        snprintf(t->err, sizeof t->err, "tls: connection closed during the handshake");
        return VOLE_TLS_FAIL;
    }
    return r;
}

enum vole_tls_io vole_tls_read(struct vole_tls *t, uint8_t *buf, size_t cap, size_t *n)
{
    *n = 0;
    int ret = mbedtls_ssl_read(&t->ssl, buf, cap);
    if (ret > 0) {
        *n = (size_t)ret;
        return VOLE_TLS_OK;
    }
    return classify(t, ret);
}

enum vole_tls_io vole_tls_write(struct vole_tls *t, const uint8_t *buf, size_t len, size_t *n)
{
    /* mbedTLS 2.28 answers a retry with the length it is given, so a retry
     * must repeat the first length, not the (possibly longer) buffer now. */
    size_t want = t->inflight ? t->inflight : (len < VOLE_TLS_RECORD_MAX ? len : VOLE_TLS_RECORD_MAX);
    *n = 0;
    int ret = mbedtls_ssl_write(&t->ssl, buf, want);
    if (ret > 0) {
        t->inflight = 0;
        *n = (size_t)ret;
        return VOLE_TLS_OK;
    }
    t->inflight = want;
    enum vole_tls_io r = classify(t, ret);
    if (r == VOLE_TLS_EOF) {
        snprintf(t->err, sizeof t->err, "tls: write after close");
        return VOLE_TLS_FAIL;
    }
    return r;
}

enum vole_tls_io vole_tls_close_notify(struct vole_tls *t)
{
    int ret = mbedtls_ssl_close_notify(&t->ssl);
    if (ret == 0)
        return VOLE_TLS_OK;
    enum vole_tls_io r = classify(t, ret);
    return r == VOLE_TLS_EOF ? VOLE_TLS_OK : r;
}

bool vole_tls_buffered(const struct vole_tls *t)
{
    return mbedtls_ssl_check_pending(&t->ssl) != 0;
}

uint64_t vole_tls_bytes_sent(const struct vole_tls *t)
{
    return t->sent;
}

const char *vole_tls_alpn(const struct vole_tls *t)
{
    const char *p = mbedtls_ssl_get_alpn_protocol(&t->ssl);
    return p ? p : "";
}

const char *vole_tls_error(const struct vole_tls *t)
{
    return t->err[0] ? t->err : "tls: error";
}
