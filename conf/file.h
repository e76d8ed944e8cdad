/* Reading a whole small file: wg-quick configs, the tokens file, DERP maps,
 * AWS ip-ranges. Pipes work too (wg-quick's <(...)), and the buffer is
 * grown without leaving copies behind, since configs and token files hold
 * secrets. */
#ifndef VOLE_CONF_FILE_H
#define VOLE_CONF_FILE_H

#include <stddef.h>

enum vole_file_status {
    VOLE_FILE_OK = 0,
    VOLE_FILE_OPEN,        /* open failed: *errnum */
    VOLE_FILE_READ,        /* read failed (e.g. a directory): *errnum */
    VOLE_FILE_TOO_LARGE,   /* more than max bytes */
    VOLE_FILE_NO_MEMORY,
};

/* OK with *buf (malloc'd, NUL-terminated) holding *len bytes; otherwise
 * *buf is NULL and the status says what went wrong (*errnum: the errno of
 * OPEN and READ). Free with vole_file_free. */
enum vole_file_status vole_file_read(const char *path, size_t max, char **buf, size_t *len, int *errnum);
/* Wipes and frees a buffer from vole_file_read (NULL is fine). */
void vole_file_free(char *buf, size_t len);

#endif
