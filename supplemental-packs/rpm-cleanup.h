/* _cleanup_ helpers for librpm's handles, shared by the pack builder, the
 * verifier and the installer. */
#pragma once

#include <rpm/header.h>
#include <rpm/rpmio.h>
#include <rpm/rpmts.h>

static inline void rpmts_freep(rpmts *t) {
        if (*t)
                rpmtsFree(*t);
}
static inline void fd_closep(FD_t *f) {
        if (*f)
                Fclose(*f);
}
static inline void header_freep(Header *h) {
        if (*h)
                headerFree(*h);
}
