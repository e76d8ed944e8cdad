/* The DERP server's node key, persisted so that a restart keeps the identity
 * clients (and DERP maps) know it by. Format: the private key in base64 on
 * one line, exactly what `vole genkey` / `wg genkey` print, so an operator can
 * make one by hand and `vole pubkey` reads it. */
#include "derp/server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "conf/key.h"

/* A key line with generous whitespace; more than this is not a key file. */
#define KEYFILE_MAX 256

/* Reads the whole (small) file; its length, or -1 with err. */
static ssize_t read_small(int fd, const char *path, char *buf, size_t cap, char *err, size_t errlen)
{
    size_t len = 0;

    for (;;) {
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, errlen, "key file %s: %s", path, strerror(errno));
            return -1;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len == cap - 1) {
            snprintf(err, errlen, "key file %s: longer than a key (%d bytes or more)", path, KEYFILE_MAX - 1);
            return -1;
        }
    }
    buf[len] = '\0';
    return (ssize_t)len;
}

static int load(int fd, const char *path, struct derp_keypair *kp, char *err, size_t errlen)
{
    char buf[KEYFILE_MAX];
    uint8_t priv[DERP_KEY_LEN];
    ssize_t len = read_small(fd, path, buf, sizeof buf, err, errlen);
    int rc = -1;

    if (len < 0)
        goto out;
    /* A NUL would hide the rest of the file from the text parser. */
    if (memchr(buf, '\0', (size_t)len) || vole_key_from_text(priv, buf) != 0) {
        snprintf(err, errlen,
                 "key file %s: not a base64 private key (one line of 44 characters, as `vole genkey` writes)%s", path,
                 len == 0 ? "; the file is empty" : "");
        goto out;
    }
    derp_keypair_from_private(kp, priv);
    rc = 0;
out:
    sodium_memzero(buf, sizeof buf);
    sodium_memzero(priv, sizeof priv);
    return rc;
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* 0 created, 1 someone else created it first, -1 error.
 * O_EXCL: two servers started at once never overwrite each other's key; the
 * loser gets EEXIST and reads the winner's. A failed write removes the file,
 * so no half-written key is left to fail the next start. */
static int create(const char *path, struct derp_keypair *kp, char *err, size_t errlen)
{
    char line[VOLE_KEY_B64_LEN + 1];
    uint8_t priv[VOLE_KEY_LEN];
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600), rc = -1;

    if (fd < 0 && errno == EEXIST)
        return 1;
    if (fd < 0) {
        snprintf(err, errlen, "key file %s: cannot create: %s", path, strerror(errno));
        return -1;
    }
    vole_key_generate_private(priv);
    vole_key_to_base64(line, priv);
    line[VOLE_KEY_B64_LEN - 1] = '\n';
    if (write_all(fd, line, VOLE_KEY_B64_LEN) < 0 || fsync(fd) < 0) {
        snprintf(err, errlen, "key file %s: cannot write: %s", path, strerror(errno));
        unlink(path);
    } else {
        derp_keypair_from_private(kp, priv);
        rc = 0;
    }
    close(fd);
    sodium_memzero(line, sizeof line);
    sodium_memzero(priv, sizeof priv);
    return rc;
}

int vole_derp_keyfile_load(const char *path, struct derp_keypair *kp, bool *created, char *err, size_t errlen)
{
    int fd, rc;

    *created = false;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        rc = create(path, kp, err, errlen);
        if (rc <= 0) {
            *created = rc == 0;
            return rc;
        }
        fd = open(path, O_RDONLY | O_CLOEXEC);   /* created by someone else meanwhile */
    }
    if (fd < 0) {
        snprintf(err, errlen, "key file %s: %s", path, strerror(errno));
        return -1;
    }
    rc = load(fd, path, kp, err, errlen);
    close(fd);
    return rc;
}
