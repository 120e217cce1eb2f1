/* JSON for plans and disks, through json-c. */
#include "plan-json.h"

#include <inttypes.h>

#include "macro.h"

static void add_str(struct json_object *o, const char *k, const char *v) {
        json_object_object_add(o, k, v ? json_object_new_string(v) : NULL);
}

static void add_u64(struct json_object *o, const char *k, uint64_t v) {
        json_object_object_add(o, k, json_object_new_uint64(v));
}

struct json_object *disk_plan_to_json(const struct disk_plan *plan, const struct disk_info *d) {
        struct json_object *o = json_object_new_object(), *parts = json_object_new_array();

        if (d) {
                add_str(o, "disk", d->path);
                add_str(o, "node", d->node);
        }
        add_u64(o, "size_bytes", plan->size_bytes);
        add_u64(o, "sector_size", plan->sector_size);
        add_u64(o, "physical_sector_size", plan->physical_sector_size);
        add_str(o, "layout", layout_kind_to_string(plan->layout));
        json_object_object_add(o, "layout_automatic", json_object_new_boolean(plan->layout_automatic));
        for (size_t i = 0; i < plan->n_parts; i++) {
                const struct part_plan *p = &plan->parts[i];
                struct json_object *j = json_object_new_object();
                add_u64(j, "number", p->spec->number);
                add_str(j, "name", p->spec->name);
                add_str(j, "type_guid", p->spec->type_guid);
                add_str(j, "filesystem", fs_kind_to_string(p->spec->fs));
                add_str(j, "label", p->spec->fs_label);
                add_u64(j, "start", p->start);
                add_u64(j, "end", p->start + p->size - 1);
                add_u64(j, "size", p->size);
                add_u64(j, "start_bytes", p->start * plan->sector_size);
                add_u64(j, "size_bytes", p->size * plan->sector_size);
                json_object_object_add(j, "keep", json_object_new_boolean(p->keep));
                json_object_array_add(parts, j);
        }
        json_object_object_add(o, "partitions", parts);
        return o;
}

struct json_object *disk_info_to_json(const struct disk_info *d) {
        struct json_object *o = json_object_new_object(), *parts = json_object_new_array();

        add_str(o, "disk", d->path);
        add_str(o, "node", d->node);
        add_str(o, "model", d->model);
        add_u64(o, "size_bytes", d->size_bytes);
        add_u64(o, "sector_size", d->sector_size);
        add_u64(o, "physical_sector_size", d->physical_sector_size);
        add_str(o, "partition_table", d->pttype);
        add_str(o, "disk_guid", d->disk_uuid);
        add_str(o, "signature", d->fs_type);
        json_object_object_add(o, "xenhost", json_object_new_boolean(d->is_xenhost));
        add_str(o, "layout", d->is_xenhost ? layout_kind_to_string(d->layout) : NULL);
        add_str(o, "sr_vg", d->sr_vg);
        add_str(o, "sr_uuid", d->sr_uuid);
        json_object_object_add(o, "read_only", json_object_new_boolean(d->read_only));
        struct json_object *loops = json_object_new_array();
        for (char **l = d->loop_devices; l && *l; l++)
                json_object_array_add(loops, json_object_new_string(*l));
        json_object_object_add(o, "loop_devices", loops);
        for (unsigned i = 0; i < d->n_parts; i++) {
                const struct disk_part *p = &d->parts[i];
                struct json_object *j = json_object_new_object();
                add_u64(j, "number", p->number);
                add_str(j, "name", p->name);
                add_str(j, "type_guid", p->type_guid);
                add_str(j, "partuuid", p->part_uuid);
                add_u64(j, "start", p->start);
                add_u64(j, "size", p->size);
                add_str(j, "filesystem", p->fs_type);
                add_str(j, "label", p->fs_label);
                add_str(j, "uuid", p->fs_uuid);
                add_str(j, "role", p->spec ? p->spec->name : NULL);
                json_object_array_add(parts, j);
        }
        json_object_object_add(o, "partitions", parts);
        return o;
}

static int get_u64(struct json_object *o, const char *k, uint64_t *ret) {
        struct json_object *v;
        if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_int))
                return -EBADMSG;
        *ret = json_object_get_uint64(v);
        return 0;
}

int disk_plan_from_json(const char *text, struct disk_plan *ret, char **ret_reason) {
        struct json_object *root = json_tokener_parse(text), *v, *parts;
        struct kept_partition kept = {};
        bool have_kept = false;
        uint64_t size, ssz, pssz = 0;
        enum layout_kind layout;
        struct disk_plan plan;
        int r = -EBADMSG;

#define BAD(...) do { if (ret_reason && asprintf(ret_reason, __VA_ARGS__) < 0) *ret_reason = NULL; goto out; } while (0)
        if (!root || !json_object_is_type(root, json_type_object))
                BAD("not a JSON plan");
        if (get_u64(root, "size_bytes", &size) < 0 || get_u64(root, "sector_size", &ssz) < 0)
                BAD("the plan has no size_bytes or sector_size");
        (void) get_u64(root, "physical_sector_size", &pssz);
        if (!json_object_object_get_ex(root, "layout", &v) || !json_object_is_type(v, json_type_string))
                BAD("the plan has no layout");
        layout = layout_kind_from_string(json_object_get_string(v));
        if (layout < 0 || layout >= _LAYOUT_MAX)
                BAD("unknown layout '%s' in the plan", json_object_get_string(v));
        if (!json_object_object_get_ex(root, "partitions", &parts) || !json_object_is_type(parts, json_type_array))
                BAD("the plan has no partitions");
        for (size_t i = 0; i < json_object_array_length(parts); i++) {
                struct json_object *p = json_object_array_get_idx(parts, i), *k;
                uint64_t num, start, psize;
                if (get_u64(p, "number", &num) < 0 || get_u64(p, "start", &start) < 0 ||
                    get_u64(p, "size", &psize) < 0)
                        BAD("partition %zu of the plan lacks number, start or size", i + 1);
                if (num == part_specs[PART_SR].number && json_object_object_get_ex(p, "keep", &k) &&
                    json_object_get_boolean(k)) {
                        kept = (struct kept_partition){start, psize};
                        have_kept = true;
                }
        }
        r = disk_plan_compute(size, (uint32_t) ssz, (uint32_t) pssz, layout, have_kept ? &kept : NULL, &plan);
        if (r < 0) {
                r = -EBADMSG;
                BAD("the plan cannot be made for a disk of %" PRIu64 " bytes", size);
        }
        r = -EBADMSG;
        if (json_object_array_length(parts) != plan.n_parts)
                BAD("the plan has %zu partitions, the %s layout has %zu", json_object_array_length(parts),
                    layout_kind_to_string(layout), plan.n_parts);
        for (size_t i = 0; i < plan.n_parts; i++) {
                struct json_object *p = json_object_array_get_idx(parts, i);
                uint64_t num, start, psize;
                get_u64(p, "number", &num);
                get_u64(p, "start", &start);
                get_u64(p, "size", &psize);
                if (num != plan.parts[i].spec->number || start != plan.parts[i].start || psize != plan.parts[i].size)
                        BAD("partition %" PRIu64 " of the plan differs from the %s layout", num,
                            layout_kind_to_string(layout));
        }
        plan.layout_automatic = false;
        *ret = plan;
        r = 0;
#undef BAD
out:
        json_object_put(root);
        return r;
}
