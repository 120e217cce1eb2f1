/* The answer-file parser: answerfile_parse_memory() (with its
 * install_config_validate()) on arbitrary bytes, then the printout of an
 * accepted config. Every problem line must be one line; an accepted file has
 * no error line and prints. */
#include "fuzz.h"

#include "answerfile.h"
#include "config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        (void) argc, (void) argv;
        /* Validation reads the time zone and keymap databases; the real ones. */
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct answerfile_problems problems = {};
        struct install_config *c = NULL;

        int r = answerfile_parse_memory("fuzz.xml", (const char *) data, size, &problems, &c);
        fuzz_assert(r == 0 || r == -EINVAL);
        fuzz_assert((r == 0) == (problems.n_errors == 0));
        for (size_t i = 0; i < problems.n_errors; i++)
                fuzz_assert(problems.errors[i] && fuzz_is_one_line(problems.errors[i]));
        for (size_t i = 0; i < problems.n_warnings; i++)
                fuzz_assert(problems.warnings[i] && fuzz_is_one_line(problems.warnings[i]));
        answerfile_problems_done(&problems);

        if (r == 0) {
                fuzz_assert(c);
                /* Accepted means valid: validating again finds no error. */
                struct config_problems vp = {};
                fuzz_assert(install_config_validate(c, &vp) == 0);
                config_problems_done(&vp);

                char *text = NULL;
                size_t len = 0;
                FILE *f = open_memstream(&text, &len);
                fuzz_assert(f);
                fuzz_assert(install_config_print(c, f) == 0);
                fclose(f);
                free(text);
                install_config_free(c);
        }
        return 0;
}
