/* xenhost-partition: plan, apply or show the xenhost layout of a disk. */
#include <getopt.h>
#include <inttypes.h>
#include <time.h>

#include "apply.h"
#include "disk.h"
#include "fileio.h"
#include "format.h"
#include "layout.h"
#include "log.h"
#include "macro.h"
#include "plan-json.h"

static enum layout_kind arg_layout = LAYOUT_AUTO;
static bool arg_json;
static bool arg_wipe;
static bool arg_keep_sr;
static enum sr_type arg_sr_type = SR_LVM;
static const char *arg_sr_uuid;
static const char *arg_plan;

static void help(void) {
        printf("Usage: xenhost-partition plan|apply|show DISK [OPTIONS]\n"
               "\n"
               "Lays out a disk as a xenhost host disk: BIOS boot, ESP, two dom0 slots,\n"
               "logs, swap and the local SR (DESIGN.md section 2).\n"
               "\n"
               "  plan DISK        print the partitions that apply would create; writes nothing\n"
               "  apply DISK       write the GPT, the filesystems and the SR\n"
               "  show DISK        what is on DISK, in xenhost's words\n"
               "\n"
               "Options:\n"
               "  --layout standard|compact|auto  layout to use (default: by disk size)\n"
               "  --plan FILE      apply the plan saved by 'plan --json' (checked against DISK)\n"
               "  --wipe           consent to erase whatever DISK holds\n"
               "  --keep-sr        keep the existing SR partition byte for byte\n"
               "  --sr-type lvm|ext  local SR type (default lvm)\n"
               "  --sr-uuid UUID   UUID of the new SR (default: random)\n"
               "  --json           machine-readable output\n"
               "  --log-file FILE  append a full log to FILE\n"
               "  -v, --verbose    debug output\n"
               "  -h, --help       this text\n");
}

static int parse_argv(int argc, char **argv) {
        enum { ARG_LAYOUT = 0x100, ARG_JSON, ARG_WIPE, ARG_KEEP_SR, ARG_SR_TYPE, ARG_SR_UUID, ARG_PLAN, ARG_LOG };
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"verbose", no_argument, NULL, 'v'},
                {"layout", required_argument, NULL, ARG_LAYOUT},
                {"json", no_argument, NULL, ARG_JSON},
                {"wipe", no_argument, NULL, ARG_WIPE},
                {"keep-sr", no_argument, NULL, ARG_KEEP_SR},
                {"sr-type", required_argument, NULL, ARG_SR_TYPE},
                {"srtype", required_argument, NULL, ARG_SR_TYPE},
                {"sr-uuid", required_argument, NULL, ARG_SR_UUID},
                {"plan", required_argument, NULL, ARG_PLAN},
                {"log-file", required_argument, NULL, ARG_LOG},
                {},
        };
        int c, r;

        while ((c = getopt_long(argc, argv, "hv", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case 'v':
                        log_set_max_level(LOG_LEVEL_DEBUG);
                        break;
                case ARG_LAYOUT:
                        arg_layout = layout_kind_from_string(optarg);
                        if (arg_layout == _LAYOUT_MAX)
                                return log_error_errno(-EINVAL, "Unknown layout '%s' (standard, compact or auto)",
                                                       optarg);
                        break;
                case ARG_JSON:
                        arg_json = true;
                        break;
                case ARG_WIPE:
                        arg_wipe = true;
                        break;
                case ARG_KEEP_SR:
                        arg_keep_sr = true;
                        break;
                case ARG_SR_TYPE:
                        arg_sr_type = sr_type_from_string(optarg);
                        if (arg_sr_type == _SR_TYPE_MAX)
                                return log_error_errno(-EINVAL, "Unknown SR type '%s' (lvm or ext)", optarg);
                        break;
                case ARG_SR_UUID:
                        arg_sr_uuid = optarg;
                        break;
                case ARG_PLAN:
                        arg_plan = optarg;
                        break;
                case ARG_LOG:
                        r = log_open_file(optarg);
                        if (r < 0)
                                return log_error_errno(r, "Cannot open log file %s: %m", optarg);
                        break;
                default:
                        return -EINVAL;
                }
        return 1;
}

static const char *role_description(enum part_role role) {
        switch (role) {
        case PART_BIOS: return "GRUB core for BIOS boot";
        case PART_ESP: return "ESP: GRUB for BIOS and UEFI, grub.cfg, grubenv";
        case PART_DOM0_A: return "dom0 slot a";
        case PART_DOM0_B: return "dom0 slot b";
        case PART_LOGS: return "/var/log";
        case PART_SWAP: return "swap";
        case PART_SR: return "local SR";
        default: return "";
        }
}

static void print_contents(const struct disk_info *d) {
        char b[32];
        printf("Disk %s: %s (%" PRIu64 " bytes), %" PRIu32 "-byte logical / %" PRIu32 "-byte physical sectors%s%s\n",
               d->path, format_si(b, sizeof b, d->size_bytes), d->size_bytes, d->sector_size,
               d->physical_sector_size, d->model ? ", " : "", d->model ? d->model : "");
        if (d->pttype)
                printf("Now holds: %s partition table with %u partition(s)%s\n", d->pttype, d->n_parts,
                       d->is_xenhost ? " (a xenhost installation)" : "");
        else if (d->fs_type)
                printf("Now holds: %s signature on the whole disk\n", d->fs_type);
        else
                printf("Now holds: nothing (no partition table, no filesystem signature)\n");
        if (d->sr_vg)
                printf("Existing SR: %s\n", d->sr_vg);
}

static void print_plan(const struct disk_plan *plan) {
        char b[32];
        printf("Layout: %s%s\n", layout_kind_to_string(plan->layout),
               plan->layout_automatic ? (plan->layout == LAYOUT_STANDARD ? " (disk of at least 46 GB)"
                                                                        : " (disk below 46 GB: no logs or swap "
                                                                          "partition, logs live in the slot)")
                                      : "");
        printf("%-2s %-10s %-36s %12s %12s %10s %-5s %s\n", "#", "Name", "Type GUID", "Start", "End", "Size", "FS",
               "Purpose");
        for (size_t i = 0; i < plan->n_parts; i++) {
                const struct part_plan *p = &plan->parts[i];
                printf("%-2u %-10s %-36s %12" PRIu64 " %12" PRIu64 " %10s %-5s %s%s\n", p->spec->number,
                       p->spec->name, p->spec->type_guid, p->start, p->start + p->size - 1,
                       format_iec(b, sizeof b, p->size * plan->sector_size), fs_kind_to_string(p->spec->fs),
                       role_description(p->spec->role), p->keep ? " (kept as it is)" : "");
        }
        printf("(start and end in %" PRIu32 "-byte sectors; partitions aligned to 1 MiB)\n", plan->sector_size);
}

static void print_json(struct json_object *o) {
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
}

static int probe(const char *disk, struct disk_info **ret) {
        int r = disk_probe(disk, ret);
        if (r == -ENOTBLK)
                return log_error_errno(r, "%s is neither a block device nor an image file", disk);
        if (r < 0)
                return log_error_errno(r, "Cannot probe %s: %m", disk);
        return 0;
}

/* plan and apply both refuse a disk that apply could not write, before any
 * plan is shown. */
static int probe_writable(const char *disk, struct disk_info **ret) {
        _cleanup_(disk_info_freep) struct disk_info *d = NULL;
        _cleanup_free_ char *reason = NULL;
        int r = probe(disk, &d);
        if (r < 0)
                return r;
        r = disk_check_writable(d, &reason);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0)
                return log_error_errno(r, "%s", reason);
        *ret = TAKE_PTR(d);
        return 0;
}

static int make_plan(const struct disk_info *d, struct disk_plan *ret) {
        struct kept_partition kept, *k = NULL;
        char b[SIZE_EXACT_MAX], min[SIZE_EXACT_MAX];
        int r;

        if (arg_plan) {
                _cleanup_free_ char *text = NULL, *reason = NULL;
                r = read_full_file(arg_plan, &text, NULL);
                if (r < 0)
                        return log_error_errno(r, "Cannot read plan %s: %m", arg_plan);
                r = disk_plan_from_json(text, ret, &reason);
                if (r < 0)
                        return log_error_errno(r, "%s: %s", arg_plan, reason ? reason : "invalid plan");
                return 0;
        }
        if (arg_keep_sr) {
                const struct disk_part *sr = disk_info_sr(d);
                if (!sr)
                        return log_error_errno(-ENOENT, "%s has no xenhost SR to keep", d->path);
                kept = (struct kept_partition){sr->start, sr->size};
                k = &kept;
        }
        r = disk_plan_compute(d->size_bytes, d->sector_size, d->physical_sector_size, arg_layout, k, ret);
        if (r == -ENOSPC && d->size_bytes < LAYOUT_COMPACT_MIN_BYTES)
                return log_error_errno(r, "%s is too small: %s, xenhost needs at least %s", d->path,
                                       format_size_exact(b, sizeof b, d->size_bytes, false),
                                       format_size_exact(min, sizeof min, LAYOUT_COMPACT_MIN_BYTES, false));
        if (r == -ENOSPC)
                return log_error_errno(r, "%s is too small for the standard layout: %s, it needs %s; "
                                          "use --layout compact", d->path,
                                       format_size_exact(b, sizeof b, d->size_bytes, true),
                                       format_size_exact(min, sizeof min, LAYOUT_STANDARD_MIN_BYTES, true));
        if (r == -E2BIG)
                return log_error_errno(r, "The %s layout does not fit before the kept SR on %s; try --layout compact",
                                       layout_kind_to_string(arg_layout == LAYOUT_AUTO ? LAYOUT_STANDARD : arg_layout),
                                       d->path);
        if (r < 0)
                return log_error_errno(r, "Cannot plan %s: %m", d->path);
        return 0;
}

static int verb_plan(const char *disk) {
        _cleanup_(disk_info_freep) struct disk_info *d = NULL;
        struct disk_plan plan;
        int r = probe_writable(disk, &d);
        if (r < 0)
                return r;
        r = make_plan(d, &plan);
        if (r < 0)
                return r;
        if (arg_json) {
                struct json_object *o = disk_plan_to_json(&plan, d);
                json_object_object_add(o, "current", disk_info_to_json(d));
                print_json(o);
                return 0;
        }
        print_contents(d);
        print_plan(&plan);
        if (disk_has_contents(d))
                printf("Applying this plan erases what %s holds%s; apply needs --wipe.\n", d->path,
                       arg_keep_sr ? " except the SR" : "");
        return 0;
}

static int verb_apply(const char *disk) {
        _cleanup_(disk_info_freep) struct disk_info *d = NULL;
        _cleanup_free_ char *reason = NULL;
        struct apply_options o = {
                .wipe = arg_wipe, .keep_sr = arg_keep_sr, .sr_type = arg_sr_type, .sr_uuid = arg_sr_uuid};
        struct apply_result res;
        struct disk_plan plan;
        struct timespec t0, t1;
        int r = probe_writable(disk, &d);
        if (r < 0)
                return r;
        r = make_plan(d, &plan);
        if (r < 0)
                return r;
        /* Check here too, so that a refusal comes before any output that
         * suggests work has started. */
        r = disk_plan_check(d, &plan, &o, &reason);
        if (r < 0)
                return log_error_errno(r, "%s", reason);
        if (!arg_json) {
                print_contents(d);
                print_plan(&plan);
        }
        clock_gettime(CLOCK_MONOTONIC, &t0);
        r = disk_plan_apply(disk, &plan, &o, &res, &reason);
        if (r < 0)
                return log_error_errno(r, "Cannot apply the plan to %s: %s", disk, reason ? reason : "unknown error");
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double secs = (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;
        if (arg_json) {
                struct json_object *j = disk_plan_to_json(&plan, d);
                json_object_object_add(j, "sr_uuid", json_object_new_string(res.sr_uuid));
                json_object_object_add(j, "sr_vg", json_object_new_string(res.sr_vg));
                json_object_object_add(j, "sr_type", json_object_new_string(sr_type_to_string(arg_sr_type)));
                json_object_object_add(j, "sr_kept", json_object_new_boolean(res.sr_kept));
                json_object_object_add(j, "sr_complete", json_object_new_boolean(res.sr_complete));
                json_object_object_add(j, "seconds", json_object_new_double(secs));
                print_json(j);
        } else
                printf("Done in %.1f s: %s laid out (%s layout), SR %s%s%s.\n", secs, disk,
                       layout_kind_to_string(plan.layout), res.sr_vg, res.sr_kept ? " kept" : "",
                       res.sr_complete ? "" : " (incomplete: no device-mapper here)");
        return 0;
}

static int verb_show(const char *disk) {
        _cleanup_(disk_info_freep) struct disk_info *d = NULL;
        char b[32];
        int r = probe(disk, &d);
        if (r < 0)
                return r;
        if (arg_json) {
                print_json(disk_info_to_json(d));
                return 0;
        }
        if (!d->is_xenhost) {
                printf("%s: not a xenhost disk\n", d->path);
                print_contents(d);
                return 0;
        }
        printf("%s: xenhost disk, %s layout, %s, %" PRIu32 "-byte sectors\n", d->path,
               layout_kind_to_string(d->layout), format_si(b, sizeof b, d->size_bytes), d->sector_size);
        for (unsigned i = 0; i < d->n_parts; i++) {
                const struct disk_part *p = &d->parts[i];
                _cleanup_free_ char *pn = NULL;
                if (partition_node_name(d->node, p->number, &pn) < 0)
                        return log_oom();
                printf("  %-2u %-10s %-10s %-12s %-10s %s%s%s\n", p->number, p->name ? p->name : "-",
                       format_iec(b, sizeof b, p->size * d->sector_size), p->fs_type ? p->fs_type : "-",
                       p->fs_label ? p->fs_label : "-",
                       p->spec ? role_description(p->spec->role) : "not xenhost's",
                       d->is_block ? "  " : "", d->is_block ? pn : "");
        }
        if (d->sr_vg)
                printf("  SR: %s on partition %u\n", d->sr_vg, part_specs[PART_SR].number);
        else
                printf("  SR: partition %u holds no xenhost volume group\n", part_specs[PART_SR].number);
        return 0;
}

int main(int argc, char **argv) {
        int r;

        log_set_program("xenhost-partition");
        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? 1 : 0;
        if (argc - optind != 2) {
                log_error("Expected a verb and a disk; see --help");
                return 1;
        }
        const char *verb = argv[optind], *disk = argv[optind + 1];
        if (streq(verb, "plan"))
                r = verb_plan(disk);
        else if (streq(verb, "apply"))
                r = verb_apply(disk);
        else if (streq(verb, "show"))
                r = verb_show(disk);
        else
                r = log_error_errno(-EINVAL, "Unknown verb '%s' (plan, apply or show)", verb);
        log_close_file();
        return r < 0 ? 1 : 0;
}
