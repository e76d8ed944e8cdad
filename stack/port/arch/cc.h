/* lwIP architecture glue for Linux hosts (vole). */
#ifndef VOLE_LWIP_ARCH_CC_H
#define VOLE_LWIP_ARCH_CC_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/time.h>

#define LWIP_TIMEVAL_PRIVATE 0
#define LWIP_ERRNO_INCLUDE <errno.h>
#define LWIP_ERRNO_STDINCLUDE 1
/* glibc's htons/ntohl are macros or builtins; lwIP must not define its own. */
#define LWIP_DONT_PROVIDE_BYTEORDER_FUNCTIONS
#include <arpa/inet.h>

unsigned int vole_lwip_rand(void);

/* The checksum's one's-complement sum, 8 bytes at a time (port/chksum.c);
 * lwIP's reference loops go 2 bytes at a time. */
unsigned short vole_lwip_chksum(const void *data, int len);
#define LWIP_CHKSUM vole_lwip_chksum
#define LWIP_RAND() (vole_lwip_rand())

/* A broken internal invariant of lwIP is a bug: stop loudly rather than
 * corrupt state. Bad *input* never reaches this: LWIP_ERROR only returns. */
#define LWIP_PLATFORM_DIAG(x) do { printf x; } while (0)
#define LWIP_PLATFORM_ASSERT(x) do { fprintf(stderr, "lwIP assertion \"%s\" failed at %s:%d\n", \
                                             x, __FILE__, __LINE__); abort(); } while (0)
#define LWIP_NOASSERT_ON_ERROR 1
#define LWIP_ERROR(message, expression, handler) do { if (!(expression)) { handler; } } while (0)

typedef int sys_prot_t;

#endif
