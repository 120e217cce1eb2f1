/* Shared by the libFuzzer harnesses (tests/fuzz/fuzz-*.c): each defines
 * LLVMFuzzerTestOneInput() and aborts on a broken invariant, so that the
 * fuzzer reports it like a crash, with the input that caused it. */
#pragma once

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A NUL-terminated copy of the input (parsers of text take C strings; the
 * text is cut at the first NUL, as a reader of a file would see it). */
static inline char *fuzz_strndup(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);
        if (!s)
                abort();
        memcpy(s, data, size);
        s[size] = 0;
        return s;
}

#define fuzz_assert(expr)                                                                         \
        do {                                                                                      \
                if (!(expr)) {                                                                    \
                        fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #expr); \
                        abort();                                                                  \
                }                                                                                 \
        } while (0)

/* One printable line: no line break and no other control character (the
 * problem lines and reasons of the parsers go to consoles and logs). */
static inline int fuzz_is_one_line(const char *s) {
        for (; *s; s++)
                if ((unsigned char) *s < 0x20 || *s == 0x7f)
                        return 0;
        return 1;
}
