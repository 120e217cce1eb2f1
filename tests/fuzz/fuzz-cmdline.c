/* The kernel command-line parser: kernel_cmdline_get() with a key and a
 * command line from the input (KEY "\n" CMDLINE; without a line break, all
 * of it is the command line and the key is "answerfile"), then
 * answerfile_location_from_cmdline() and the checks the installer runs on
 * the location it names (config_url_check(), url_redact()). */
#include "fuzz.h"

#include <stdbool.h>

#include "config.h"
#include "fetch.h"

static void get(const char *cmdline, const char *key) {
        char *v = (char *) 1;
        int r = kernel_cmdline_get(cmdline, key, &v);
        fuzz_assert(r == 0 || r == 1);
        if (r == 0)
                fuzz_assert(v == NULL);
        else
                fuzz_assert(v && strlen(v) <= strlen(cmdline));
        free(r == 1 ? v : NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *input = fuzz_strndup(data, size), *nl = strchr(input, '\n');
        const char *key = "answerfile", *cmdline = input;
        if (nl) {
                *nl = 0;
                key = input;
                cmdline = nl + 1;
        }

        get(cmdline, key);
        get(cmdline, "answerfile");
        get(cmdline, "answerfile_generator");

        /* The last occurrence wins: a plain key=value appended to a command
         * line that leaves no quote open is what the lookup returns. */
        size_t quotes = 0;
        for (const char *p = cmdline; *p; p++)
                quotes += *p == '"';
        if (quotes % 2 == 0) {
                char *longer = NULL, *v = NULL;
                fuzz_assert(asprintf(&longer, "%s answer-file=/fuzz/x.xml", cmdline) > 0);
                fuzz_assert(kernel_cmdline_get(longer, "answer_file", &v) == 1);
                fuzz_assert(strcmp(v, "/fuzz/x.xml") == 0);
                free(v);
                free(longer);
        }

        char *location = NULL;
        bool generator = false;
        int r = answerfile_location_from_cmdline(cmdline, &location, &generator);
        fuzz_assert(r == 0 || r == 1 || r == -EINVAL);
        if (r == 1) {
                fuzz_assert(location && location[0]);
                char *reason = NULL, *shown = NULL;
                if (config_url_check(location, &reason) < 0)
                        fuzz_assert(reason);
                free(reason);
                fuzz_assert(url_redact(location, &shown) == 0 && shown);
                free(shown);
                free(location);
        } else
                fuzz_assert(location == NULL || r < 0);

        free(input);
        return 0;
}
