/* Answer files: XenServer's answer-file XML (DESIGN.md section 5) read into
 * struct install_config. Pure: reads a file at most, never a disk or the
 * network, so --check-answerfile can run anywhere. */
#pragma once

#include <stddef.h>

#include "config.h"

/* Everything wrong with an answer file, not just the first thing, so an
 * operator fixes a file in one round. Each line is complete and printable:
 *   errors:   "FILE:LINE: what is wrong"
 *   warnings: "FILE:LINE: warning: what has no effect"
 * Values from the file that are secrets (the root password, credentials in
 * URLs) never appear in these lines. */
struct answerfile_problems {
        char **errors;   /* NULL-terminated, may be NULL */
        size_t n_errors;
        char **warnings; /* NULL-terminated, may be NULL */
        size_t n_warnings;
};

void answerfile_problems_done(struct answerfile_problems *p);

/* Parses an answer file held in memory; NAME is what error lines call it.
 * The config is then checked with install_config_validate(), and each of
 * its problems is reported at the line of the element that set the field
 * (the root element's line for a field that nothing set). Problems come in
 * the order of their lines. The tree's copies of the text are overwritten
 * before they are freed. PROBLEMS (zero-initialised by the caller)
 * receives every error and warning. Returns 0 and the config when there
 * is no error (warnings are fine), -EINVAL when PROBLEMS holds at least one error, -ENOMEM. */
int answerfile_parse_memory(const char *name, const char *data, size_t len, struct answerfile_problems *problems,
                            struct install_config **ret);

/* Like answerfile_parse_memory() on the content of PATH. Returns -errno
 * without adding a problem line when PATH cannot be read. */
int answerfile_parse_file(const char *path, struct answerfile_problems *problems, struct install_config **ret);
