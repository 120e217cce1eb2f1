/* Writing an answer file: the inverse of answerfile.h. The interactive
 * installer offers it at the end, so that the install it just did can be
 * repeated unattended on the next hosts (DESIGN.md section 10). */
#pragma once

#include <stdio.h>

#include "config.h"

/* Writes C as answer-file XML that answerfile_parse_memory() reads back
 * into an equal config (every field that the answer file can express).
 * The root password is written as the config holds it: a front end that
 * hands over a hash (type="hash") keeps the clear text out of the file.
 * Returns 0, or -errno when F cannot be written. */
int answerfile_write(const struct install_config *c, FILE *f);

/* Like answerfile_write(), into a string; *RET is set on success. */
int answerfile_format(const struct install_config *c, char **ret);
