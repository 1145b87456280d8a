// Interposes malloc, calloc, realloc, posix_memalign, aligned_alloc and memalign in the test binary
// (an executable's definitions take precedence over libc's for the whole process) and forwards each to
// glibc's own implementation, counting calls while counting is on. Used by the test that proves a
// decode step allocates nothing.

#include "AllocationCounter.h"

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>

#if defined(__GLIBC__)

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static atomic_int counting;
static atomic_long allocations;
/// Counting on one thread only: allocations there, and elsewhere (other threads, or this one inside a
/// driver's call), apart.
static atomic_int counting_one_thread;
static _Thread_local int counted_thread, inside_driver;
static atomic_long elsewhere;

static inline void count(void) {
    if (atomic_load_explicit(&counting, memory_order_relaxed)) atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    if (atomic_load_explicit(&counting_one_thread, memory_order_relaxed)) {
        if (counted_thread && !inside_driver) atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
        else atomic_fetch_add_explicit(&elsewhere, 1, memory_order_relaxed);
    }
}

void *malloc(size_t size) {
    count();
    return __libc_malloc(size);
}

void *calloc(size_t count_, size_t size) {
    count();
    return __libc_calloc(count_, size);
}

void *realloc(void *pointer, size_t size) {
    count();
    return __libc_realloc(pointer, size);
}

void *memalign(size_t alignment, size_t size) {
    count();
    return __libc_memalign(alignment, size);
}

void *aligned_alloc(size_t alignment, size_t size) {
    count();
    return __libc_memalign(alignment, size);
}

int posix_memalign(void **result, size_t alignment, size_t size) {
    count();
    if (alignment % sizeof(void *) != 0 || (alignment & (alignment - 1)) != 0) return EINVAL;
    void *pointer = __libc_memalign(alignment, size);
    if (pointer == NULL && size != 0) return ENOMEM;
    *result = pointer;
    return 0;
}

void allocation_counter_start(void) {
    atomic_store(&allocations, 0);
    atomic_store(&counting, 1);
}

long allocation_counter_stop(void) {
    atomic_store(&counting, 0);
    return atomic_load(&allocations);
}

void allocation_counter_start_on_this_thread(void) {
    atomic_store(&allocations, 0);
    atomic_store(&elsewhere, 0);
    counted_thread = 1;
    atomic_store(&counting_one_thread, 1);
}

long allocation_counter_stop_on_this_thread(long *allocations_elsewhere) {
    atomic_store(&counting_one_thread, 0);
    counted_thread = 0;
    *allocations_elsewhere = atomic_load(&elsewhere);
    return atomic_load(&allocations);
}

void allocation_counter_driver_call(int entering) { inside_driver = entering; }

#else

void allocation_counter_start(void) {}
long allocation_counter_stop(void) { return -1; }
void allocation_counter_start_on_this_thread(void) {}
long allocation_counter_stop_on_this_thread(long *allocations_elsewhere) {
    *allocations_elsewhere = -1;
    return -1;
}
void allocation_counter_driver_call(int entering) { (void)entering; }

#endif
