/* The process's one lwIP instance and the libev watchers that drive it.
 * Internal to stack/: the public entry points are in stack.h. */
#ifndef VOLE_STACK_RUNTIME_H
#define VOLE_STACK_RUNTIME_H

#include <stddef.h>
#include <ev.h>

#include "stack/list.h"

/* Work to do once per loop iteration, just before libev blocks: an entry
 * marked any number of times is flushed once. fn may free the entry's owner. */
struct vole_flush {
    struct vole_link link;
    void (*fn)(struct vole_flush *f);
};

/* Called by each stack: the first user initialises lwIP (once per process)
 * and starts the watchers on loop; later users must pass the same loop. */
int vole_runtime_acquire(struct ev_loop *loop, char *err, size_t errlen);
void vole_runtime_release(void);
struct ev_loop *vole_runtime_loop(void);

void vole_runtime_mark(struct vole_flush *f);
/* Input held back within an iteration (stack/gro.h): flushed before the
 * marked entries of the same prepare and before lwIP's timers run. An entry
 * is on one list at a time; vole_runtime_unmark takes it off either. */
void vole_runtime_mark_input(struct vole_flush *f);
void vole_runtime_unmark(struct vole_flush *f);

/* Recompute when lwIP next needs its timers; the prepare watcher does this
 * every iteration, so callers only need it outside the loop (tests). */
void vole_runtime_rearm(void);

#endif
