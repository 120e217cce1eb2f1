/* The JSON forms of a plan and of a probed disk (--json), and reading a
 * saved plan back (apply --plan FILE). */
#pragma once

#include <json-c/json.h>

#include "disk.h"
#include "layout.h"

struct json_object *disk_plan_to_json(const struct disk_plan *plan, const struct disk_info *d);
struct json_object *disk_info_to_json(const struct disk_info *d);

/* Rebuilds the plan saved in TEXT. Only plans this program made are
 * accepted: the layout is recomputed and must match the saved partitions
 * exactly. Returns -EBADMSG with a reason on anything else. */
int disk_plan_from_json(const char *text, struct disk_plan *ret, char **ret_reason);
