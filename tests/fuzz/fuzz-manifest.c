/* The manifest parser: manifest_parse() on arbitrary text. A manifest it
 * accepts renders with manifest_format() and parses back to the same
 * values; a refusal comes with one printable reason line. */
#include "fuzz.h"

#include "macro.h"
#include "manifest.h"

static int streq_or_null(const char *a, const char *b) {
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = fuzz_strndup(data, size), *reason = NULL;
        struct manifest m = {};

        int r = manifest_parse(text, &m, &reason);
        fuzz_assert(r == 0 || r == -EBADMSG);
        if (r < 0) {
                fuzz_assert(reason && fuzz_is_one_line(reason));
                free(reason);
                free(text);
                return 0;
        }

        char *again = NULL, *reason2 = NULL;
        struct manifest m2 = {};
        fuzz_assert(manifest_format(&m, &again) == 0);
        fuzz_assert(manifest_parse(again, &m2, &reason2) == 0);
        fuzz_assert(streq_or_null(m.product, m2.product));
        fuzz_assert(streq_or_null(m.version, m2.version));
        fuzz_assert(streq_or_null(m.build, m2.build));
        fuzz_assert(streq_or_null(m.image_sha256, m2.image_sha256));
        fuzz_assert(streq_or_null(m.xen_version, m2.xen_version));
        fuzz_assert(streq_or_null(m.kernel_version, m2.kernel_version));
        fuzz_assert(streq_or_null(m.min_upgrade_from, m2.min_upgrade_from));
        fuzz_assert(m.image_size == m2.image_size && m.installed_size == m2.installed_size);
        fuzz_assert(m.source_date_epoch == m2.source_date_epoch && m.image_format == m2.image_format);

        free(again);
        free(reason2);
        manifest_done(&m2);
        manifest_done(&m);
        free(text);
        return 0;
}
