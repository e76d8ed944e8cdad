/* `vole genkey` and `vole pubkey`: the same text in and out as wg's. */
#include "cli/commands.h"
#include "conf/key.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

/* Room for a key with generous surrounding whitespace; more is not a key. */
#define PUBKEY_INPUT_MAX 1024

static const char GENKEY_USAGE[] =
    "usage: vole genkey\n"
    "\n"
    "Prints a new random private key in base64, as `wg genkey` does.\n";

static const char PUBKEY_USAGE[] =
    "usage: vole pubkey < PRIVATE_KEY_FILE\n"
    "\n"
    "Reads a base64 private key on stdin and prints its public key, as\n"
    "`wg pubkey` does.\n";

/* Both commands take no arguments. -1 means go on; otherwise the exit status
 * after printing help (0) or an error (1). */
static int check_args(int argc, char **argv, const char *usage)
{
    if (argc <= 1)
        return -1;
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    fprintf(stderr, "vole %s: unexpected argument \"%s\"\n%s", argv[0], argv[1], usage);
    return 1;
}

/* Like wg: a private key landing in a file others can read deserves a hint. */
static void warn_if_world_readable_stdout(void)
{
    struct stat st;
    if (fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & S_IRWXO))
        fputs("Warning: writing to world accessible file.\n"
              "Consider setting the umask to 077 and trying again.\n", stderr);
}

/* Prints key + "\n"; 0, or 1 after a message if stdout failed (e.g. full disk),
 * so `vole genkey > k` never silently leaves an empty or partial key. */
static int print_key(const char *cmd, const uint8_t key[VOLE_KEY_LEN])
{
    char b64[VOLE_KEY_B64_LEN];
    vole_key_to_base64(b64, key);
    int bad = printf("%s\n", b64) < 0;
    sodium_memzero(b64, sizeof(b64));
    if (fflush(stdout) != 0 || bad) {
        fprintf(stderr, "vole %s: cannot write to stdout: %s\n", cmd, strerror(errno));
        return 1;
    }
    return 0;
}

int cmd_genkey(int argc, char **argv)
{
    int done = check_args(argc, argv, GENKEY_USAGE);
    if (done >= 0)
        return done;
    warn_if_world_readable_stdout();
    uint8_t priv[VOLE_KEY_LEN];
    vole_key_generate_private(priv);
    int rc = print_key("genkey", priv);
    sodium_memzero(priv, sizeof(priv));
    return rc;
}

/* Reads all of stdin with read(2), not stdio, so the private key is not also
 * left in a FILE buffer we cannot wipe. Returns the length, or -1 if stdin is
 * unreadable or longer than cap - 1 bytes. NUL-terminates buf. */
static ssize_t read_stdin(char *buf, size_t cap)
{
    size_t len = 0;
    for (;;) {
        ssize_t n = read(STDIN_FILENO, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        len += (size_t)n;
        if (len == cap - 1) {
            char extra;   /* a full buffer is fine only if stdin ends here */
            while ((n = read(STDIN_FILENO, &extra, 1)) < 0 && errno == EINTR)
                ;
            if (n != 0)
                return -1;
            break;
        }
    }
    buf[len] = '\0';
    return (ssize_t)len;
}

int cmd_pubkey(int argc, char **argv)
{
    int done = check_args(argc, argv, PUBKEY_USAGE);
    if (done >= 0)
        return done;
    char buf[PUBKEY_INPUT_MAX];
    uint8_t priv[VOLE_KEY_LEN], pub[VOLE_KEY_LEN];
    int rc = 1;

    ssize_t len = read_stdin(buf, sizeof(buf));
    /* A NUL byte would hide whatever follows it from the string functions. */
    if (len < 0 || memchr(buf, '\0', (size_t)len) != NULL ||
        vole_key_from_text(priv, buf) != 0) {
        fputs("vole pubkey: stdin does not hold a base64 WireGuard key\n", stderr);
        goto out;
    }
    vole_key_public(pub, priv);
    rc = print_key("pubkey", pub);
out:
    sodium_memzero(buf, sizeof(buf));
    sodium_memzero(priv, sizeof(priv));
    return rc;
}
