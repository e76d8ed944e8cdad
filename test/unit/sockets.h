/* Loopback TCP listeners for the unit tests. */
#ifndef VOLE_TEST_SOCKETS_H
#define VOLE_TEST_SOCKETS_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>

/* Binds fd (an AF_INET stream socket, options already set: listeners pass
 * them on to accepted sockets) to 127.0.0.1 on a port the kernel picks,
 * listens, and returns that port. */
static inline uint16_t listen_loopback(int fd, int backlog)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, backlog), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    return ntohs(a.sin_port);
}

#endif
