#include "conf/file.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Doubles *buf, wiping the old block: it may hold key material. */
static int grow(char **buf, size_t *cap)
{
    size_t new_cap = *cap != 0 ? *cap * 2 : 4096;
    char *fresh = malloc(new_cap);
    if (!fresh)
        return -1;
    if (*buf) {
        memcpy(fresh, *buf, *cap);
        sodium_memzero(*buf, *cap);
        free(*buf);
    }
    *buf = fresh;
    *cap = new_cap;
    return 0;
}

/* Reads all of fd, one byte past max at most, keeping room for a NUL. */
static enum vole_file_status read_all(int fd, size_t max, char **buf, size_t *len, size_t *cap, int *errnum)
{
    for (;;) {
        if (*len > max)
            return VOLE_FILE_TOO_LARGE;
        if (*len + 1 >= *cap && grow(buf, cap) != 0)
            return VOLE_FILE_NO_MEMORY;
        ssize_t n = read(fd, *buf + *len, *cap - *len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            *errnum = errno;
            return VOLE_FILE_READ;
        }
        if (n == 0)
            return VOLE_FILE_OK;
        *len += (size_t)n;
    }
}

enum vole_file_status vole_file_read(const char *path, size_t max, char **buf, size_t *len, int *errnum)
{
    size_t cap = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    *buf = NULL;
    *len = 0;
    *errnum = 0;
    if (fd < 0) {
        *errnum = errno;
        return VOLE_FILE_OPEN;
    }
    enum vole_file_status st = read_all(fd, max, buf, len, &cap, errnum);
    close(fd);
    if (st != VOLE_FILE_OK) {
        vole_file_free(*buf, cap);
        *buf = NULL;
        *len = 0;
        return st;
    }
    (*buf)[*len] = '\0';
    return VOLE_FILE_OK;
}

void vole_file_free(char *buf, size_t len)
{
    if (buf)
        sodium_memzero(buf, len);
    free(buf);
}
