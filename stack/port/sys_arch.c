/* The two services lwIP (NO_SYS=1) needs from the host: a monotonic
 * millisecond clock for its timeouts and a random number source. Built into
 * the lwip library itself so that lwIP's own objects resolve them. */
#include <sodium.h>
#include <time.h>

#include "lwip/sys.h"

u32_t sys_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    /* Wraps every 49.7 days; lwIP compares with TIME_LESS_THAN, which copes. */
    return (u32_t)((u64_t)ts.tv_sec * 1000u + (u64_t)ts.tv_nsec / 1000000u);
}

unsigned int vole_lwip_rand(void)
{
    return randombytes_random();
}
