// FUZZ_CHECK(condition): what a fuzz target requires beyond "no crash". A failed check aborts
// with its place and text, which libFuzzer (and the replay driver) report as a crash, with
// the input that caused it.
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(condition)                                                            \
  do {                                                                                   \
    if (!(condition)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (false)
