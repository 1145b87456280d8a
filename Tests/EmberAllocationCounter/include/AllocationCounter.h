// Counting heap allocations in tests: the test binary's malloc family forwards to glibc's and, while
// counting is on, counts every call, on every thread.

#ifndef EMBER_ALLOCATION_COUNTER_H
#define EMBER_ALLOCATION_COUNTER_H

void allocation_counter_start(void);
/// Stops counting and returns the allocations made since `allocation_counter_start`.
long allocation_counter_stop(void);

#endif
