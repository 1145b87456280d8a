// Counting heap allocations in tests: the test binary's malloc family forwards to glibc's and, while
// counting is on, counts every call, on every thread; or those of one thread, apart from a driver's
// (its own threads, and its calls on this one: a GPU driver allocates as it submits work).

#ifndef EMBER_ALLOCATION_COUNTER_H
#define EMBER_ALLOCATION_COUNTER_H

void allocation_counter_start(void);
/// Stops counting and returns the allocations made since `allocation_counter_start`.
long allocation_counter_stop(void);

/// Counts the calling thread's allocations, except while it is inside a driver's call.
void allocation_counter_start_on_this_thread(void);
/// Stops counting; returns the thread's allocations and writes the others' to `allocations_elsewhere`.
long allocation_counter_stop_on_this_thread(long *allocations_elsewhere);
/// Marks the calling thread as entering (1) or leaving (0) a driver's call: a hook for the GPU runtime.
void allocation_counter_driver_call(int entering);

#endif
