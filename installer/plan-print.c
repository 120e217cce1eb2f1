/* The install plan for people and for machines, and the facts read back
 * from JSON (xenhost-install --dry-run [--json], --facts FILE). */
#include <inttypes.h>
#include <json-c/json.h>

#include "format.h"
#include "plan.h"

static const char *const plan_file_kind_names[_PLAN_FILE_KIND_MAX] = {
        [PLAN_FILE_REGULAR] = "file",
        [PLAN_FILE_SYMLINK] = "symlink",
        [PLAN_FILE_REMOVE] = "remove",
};

static void print_command(FILE *f, char *const *argv) {
        for (char *const *a = argv; *a; a++)
                fprintf(f, "%s%s", a == argv ? "" : " ", *a);
}

static void print_settings_and_verdict(const struct install_plan *p, FILE *f) {
        fprintf(f, "\nSettings:\n");
        for (size_t i = 0; i < p->n_settings; i++)
                fprintf(f, "  %-28s %-19s %s\n", p->settings[i].field, setting_fate_to_string(p->settings[i].fate),
                        p->settings[i].detail);
        for (char **w = p->warnings; w && *w; w++)
                fprintf(f, "warning: %s\n", *w);
        for (char **e = p->errors; e && *e; e++)
                fprintf(f, "error: %s\n", *e);
        fprintf(f, "%s\n", p->n_errors > 0 ? "This plan cannot be carried out." : "Nothing has been written.");
}

static const char *slot_version(const struct install_plan *p, char slot) {
        return (slot == 'a' || slot == 'b') && p->slot_versions[slot - 'a'] ? p->slot_versions[slot - 'a'] : "empty";
}

/* mode upgrade and restore: the installed host, which slot is written or
 * booted next, and that nothing is erased. */
static int print_keeps_host(const struct install_plan *p, FILE *f) {
        char s[32];
        const bool upgrade = p->mode == INSTALL_MODE_UPGRADE;
        if (upgrade)
                fprintf(f, "Upgrade plan: xenhost %s (build %s, %s image) from the install media\n",
                        p->image.version ?: "?", p->image.build ?: "?", p->image.format ?: "?");
        else
                fprintf(f, "Restore plan: the previous version boots again\n");
        fprintf(f, "\nDisk:\n");
        for (size_t i = 0; i < p->n_disks; i++) {
                const struct plan_disk *d = &p->disks[i];
                fprintf(f, "  %s, %s%s%s%s%s\n", d->path, format_si(s, sizeof s, d->size_bytes), d->model ? ", " : "",
                        d->model ?: "", d->serial ? ", serial " : "", d->serial ?: "");
                fprintf(f, "    holds now: %s\n", d->holds ?: "?");
                fprintf(f, "    nothing is erased%s\n", d->keep_sr ? "; the SR is kept as it is" : "");
        }
        if (p->default_slot) {
                char other = p->default_slot == 'a' ? 'b' : 'a';
                fprintf(f, "\nSlots now:\n  slot %c: %s (boots now)\n  slot %c: %s\n", p->default_slot,
                        slot_version(p, p->default_slot), other, slot_version(p, other));
                fprintf(f, "\n");
                if (p->n_errors > 0)
                        fprintf(f, "Nothing is written or booted differently: see the errors\n");
                else if (p->noop)
                        fprintf(f, "Nothing to do: xenhost %s boots from slot %c already\n", p->image.version ?: "?",
                                p->slot);
                else if (upgrade)
                        fprintf(f, "Slot %c (%s) is written: xenhost %s over %s; configuration carried over from "
                                   "slot %c\nBoot: slot %c is tried %u times, then GRUB falls back to slot %c\n",
                                p->slot, p->slot_label, p->image.version ?: "?", slot_version(p, p->slot),
                                p->default_slot, p->slot, p->tries, p->default_slot);
                else if (p->tries > 0)
                        fprintf(f, "Boot: slot %c (%s) boots next, tried %u times; slot %c stays the fallback\n",
                                p->slot, slot_version(p, p->slot), p->tries, p->default_slot);
                else
                        fprintf(f, "Boot: slot %c (%s) boots next; the try of slot %c ends\n", p->slot,
                                slot_version(p, p->slot), other);
        }
        print_settings_and_verdict(p, f);
        return ferror(f) ? -EIO : 0;
}

int install_plan_print(const struct install_plan *p, FILE *f) {
        char s[32];

        if (install_mode_keeps_host(p->mode))
                return print_keeps_host(p, f);

        fprintf(f, "Install plan: %s install of xenhost %s (build %s, %s image)\n", install_mode_to_string(p->mode),
                p->image.version ?: "?", p->image.build ?: "?", p->image.format ?: "?");
        fprintf(f, "\nDisks:\n");
        for (size_t i = 0; i < p->n_disks; i++) {
                const struct plan_disk *d = &p->disks[i];
                fprintf(f, "  %s %s, %s%s%s%s%s\n", plan_disk_role_to_string(d->role), d->path,
                        format_si(s, sizeof s, d->size_bytes), d->model ? ", " : "", d->model ?: "",
                        d->serial ? ", serial " : "", d->serial ?: "");
                fprintf(f, "    holds now: %s\n", d->holds ?: "?");
                fprintf(f, "    %s\n", d->keep_sr ? "ERASED but for its SR partition, kept byte for byte"
                                       : d->role == PLAN_DISK_GUEST ? "ERASED and added whole to the SR"
                                                                    : "ERASED");
        }
        if (p->layout.n_parts > 0) {
                fprintf(f, "\nLayout of %s (%s):\n", p->disk, layout_kind_to_string(p->layout.layout));
                for (size_t i = 0; i < p->layout.n_parts; i++) {
                        const struct part_plan *pp = &p->layout.parts[i];
                        fprintf(f, "  %u %-10s %10s  %s%s\n", pp->spec->number, pp->spec->name,
                                format_iec(s, sizeof s, pp->size * p->layout.sector_size),
                                fs_kind_to_string(pp->spec->fs), pp->keep ? " (kept)" : "");
                }
                fprintf(f, "  SR: %s, VG_XenStorage-%s%s\n", sr_type_to_string(p->sr_type), p->sr_uuid,
                        p->keep_sr ? " (kept)" : " (new)");
        }
        fprintf(f, "\nSlot %c (%s), file system UUID %s\n", p->slot, p->slot_label, p->slot_fs_uuid);
        fprintf(f, "\nFiles written on the host:\n");
        for (size_t i = 0; i < p->n_files; i++) {
                const struct plan_file *pf = &p->files[i];
                fprintf(f, "  %s %s", plan_file_kind_names[pf->kind], pf->path);
                if (pf->kind == PLAN_FILE_SYMLINK)
                        fprintf(f, " -> %s", pf->content);
                fprintf(f, "  (%s)\n", pf->why);
        }
        if (p->n_commands > 0) {
                fprintf(f, "\nRun in the new slot:\n");
                for (size_t i = 0; i < p->n_commands; i++) {
                        fprintf(f, "  ");
                        print_command(f, p->commands[i].argv);
                        fprintf(f, "  (%s)\n", p->commands[i].why);
                }
        }
        fprintf(f, "\nBoot:\n  entry slot-%c: /boot/%s, /boot/%s, /boot/%s\n", p->slot, p->xen_file ?: "?",
                p->kernel_file ?: "?", p->initrd_file ?: "?");
        fprintf(f, "  default slot %c, nothing being tried\n", p->slot);
        fprintf(f, "  UEFI boot entry: %s\n", p->efi_entry ? "\"xenhost\" -> \\EFI\\xenhost\\grubx64.efi" : "none");
        if (p->n_packs > 0) {
                fprintf(f, "\nSupplemental packs (fetched and verified before the first write, installed into slot "
                           "%c in this order):\n", p->slot);
                for (size_t i = 0; i < p->n_packs; i++) {
                        const struct plan_pack *pp = &p->packs[i];
                        if (pp->type == LOCATION_LOCAL && pp->location)
                                fprintf(f, "  %zu local: %s/%s on the install media\n", pp->index + 1,
                                        PLAN_PACKS_MEDIA_DIR, pp->location);
                        else if (pp->type == LOCATION_LOCAL)
                                fprintf(f, "  %zu local: every pack in %s/ on the install media\n", pp->index + 1,
                                        PLAN_PACKS_MEDIA_DIR);
                        else
                                fprintf(f, "  %zu %s %s\n", pp->index + 1, location_type_to_string(pp->type),
                                        pp->location);
                }
        }
        for (size_t st = 0; st < _SCRIPT_STAGE_MAX; st++)
                if (p->n_scripts[st] > 0)
                        fprintf(f, "\nScripts at %s: %zu\n", script_stage_to_string((enum script_stage) st),
                                p->n_scripts[st]);
        print_settings_and_verdict(p, f);
        return ferror(f) ? -EIO : 0;
}

/* ---- JSON ----------------------------------------------------------------- */

static void add_str(struct json_object *o, const char *k, const char *v) {
        json_object_object_add(o, k, v ? json_object_new_string(v) : NULL);
}

/* A URL without its credentials or query values, a path as it is. */
static void add_location(struct json_object *o, const char *k, const char *v) {
        _cleanup_free_ char *shown = NULL;
        if (v && strstr(v, "://") && url_redact(v, &shown) >= 0)
                v = shown;
        add_str(o, k, v);
}

static void add_u64(struct json_object *o, const char *k, uint64_t v) {
        json_object_object_add(o, k, json_object_new_uint64(v));
}

static void add_bool(struct json_object *o, const char *k, bool v) {
        json_object_object_add(o, k, json_object_new_boolean(v));
}

static struct json_object *strv_to_json(char *const *l) {
        struct json_object *a = json_object_new_array();
        for (; l && *l; l++)
                json_object_array_add(a, json_object_new_string(*l));
        return a;
}

static struct json_object *facts_to_json(const struct install_facts *fa) {
        struct json_object *o = json_object_new_object(), *disks = json_object_new_array(),
                           *nics = json_object_new_array(), *img = json_object_new_object();
        add_u64(o, "memory_bytes", fa->memory_bytes);
        add_bool(o, "efi", fa->efi);
        add_bool(o, "cpu_virtualization", fa->cpu_virtualization);
        add_bool(o, "serial", fa->serial);
        for (size_t i = 0; i < fa->n_disks; i++) {
                const struct disk_facts *d = &fa->disks[i];
                struct json_object *j = json_object_new_object();
                add_str(j, "path", d->path);
                add_str(j, "by_id", d->by_id);
                add_str(j, "model", d->model);
                add_str(j, "serial", d->serial);
                add_u64(j, "size_bytes", d->size_bytes);
                add_u64(j, "sector_size", d->sector_size);
                add_u64(j, "physical_sector_size", d->physical_sector_size);
                add_str(j, "partition_table", d->pttype);
                add_str(j, "signature", d->signature);
                add_u64(j, "partitions", d->n_partitions);
                add_bool(j, "xenhost", d->is_xenhost);
                add_str(j, "layout", d->is_xenhost ? layout_kind_to_string(d->layout) : NULL);
                add_str(j, "installed_version", d->installed_version);
                if (d->is_xenhost) {
                        struct json_object *sv = json_object_new_object();
                        char ds[2] = {d->default_slot, 0}, ts[2] = {d->try_slot, 0};
                        add_str(sv, "a", d->slot_versions[0]);
                        add_str(sv, "b", d->slot_versions[1]);
                        json_object_object_add(j, "slot_versions", sv);
                        add_str(j, "default_slot", d->default_slot ? ds : NULL);
                        add_str(j, "try_slot", d->try_slot ? ts : NULL);
                }
                add_str(j, "sr_uuid", d->sr_uuid);
                add_str(j, "sr_type", d->sr_uuid ? sr_type_to_string(d->sr_type) : NULL);
                json_object_object_add(j, "sr_volumes", json_object_new_int(d->sr_volumes));
                add_u64(j, "sr_start", d->sr_start);
                add_u64(j, "sr_size", d->sr_size);
                /* What refuses the disk as a target travels with the facts,
                 * so that a plan made from them refuses it too. */
                add_bool(j, "read_only", d->read_only);
                struct json_object *loops = json_object_new_array();
                for (char **l = d->loop_devices; l && *l; l++)
                        json_object_array_add(loops, json_object_new_string(*l));
                json_object_object_add(j, "loop_devices", loops);
                json_object_array_add(disks, j);
        }
        json_object_object_add(o, "disks", disks);
        for (size_t i = 0; i < fa->n_nics; i++) {
                struct json_object *j = json_object_new_object();
                add_str(j, "name", fa->nics[i].name);
                add_str(j, "mac", fa->nics[i].mac);
                add_str(j, "driver", fa->nics[i].driver);
                add_bool(j, "link", fa->nics[i].link);
                json_object_array_add(nics, j);
        }
        json_object_object_add(o, "nics", nics);
        if (fa->has_image) {
                add_location(img, "image", fa->image.image);
                add_str(img, "manifest", fa->image.manifest);
                add_location(img, "source_url", fa->image.source_url);
                add_str(img, "version", fa->image.version);
                add_str(img, "build", fa->image.build);
                add_str(img, "format", fa->image.format);
                add_str(img, "xen_version", fa->image.xen_version);
                add_str(img, "kernel_version", fa->image.kernel_version);
                add_u64(img, "image_size", fa->image.image_size);
                add_u64(img, "installed_size", fa->image.installed_size);
                json_object_object_add(o, "image", img);
        } else {
                json_object_put(img);
                json_object_object_add(o, "image", NULL);
        }
        add_str(o, "installation_uuid", fa->installation_uuid);
        add_str(o, "control_domain_uuid", fa->control_domain_uuid);
        add_str(o, "sr_uuid", fa->sr_uuid);
        add_str(o, "slot_fs_uuid", fa->slot_fs_uuid);
        add_str(o, "date", fa->date);
        return o;
}

int install_plan_print_json(const struct install_plan *p, const struct install_facts *fa, FILE *f) {
        struct json_object *o = json_object_new_object(), *disks = json_object_new_array(),
                           *files = json_object_new_array(), *cmds = json_object_new_array(),
                           *settings = json_object_new_array(), *boot = json_object_new_object(),
                           *scripts = json_object_new_object(), *layout = json_object_new_object(),
                           *parts = json_object_new_array(), *slot = json_object_new_object();
        char *cmdline = NULL;

        add_str(o, "mode", install_mode_to_string(p->mode));
        add_bool(o, "valid", p->n_errors == 0);
        if (install_mode_keeps_host(p->mode)) {
                /* What an upgrade or a restore does to the installed host. */
                struct json_object *h = json_object_new_object(), *sv = json_object_new_object();
                char ds[2] = {p->default_slot, 0}, ns[2] = {p->slot, 0};
                add_str(h, "disk", p->disk);
                add_str(h, "default_slot", p->default_slot ? ds : NULL);
                add_str(sv, "a", p->slot_versions[0]);
                add_str(sv, "b", p->slot_versions[1]);
                json_object_object_add(h, "slot_versions", sv);
                bool ok = p->n_errors == 0;
                add_str(h, "written_slot", ok && p->mode == INSTALL_MODE_UPGRADE && !p->noop ? ns : NULL);
                add_str(h, "next_slot", ok ? ns : NULL);
                add_u64(h, "tries", p->tries);
                add_bool(h, "noop", p->noop);
                add_str(h, "version", p->mode == INSTALL_MODE_UPGRADE ? p->image.version : NULL);
                add_bool(h, "erases", false);
                add_bool(h, "keeps_sr", p->keep_sr);
                json_object_object_add(o, "installed_host", h);
        } else
                json_object_object_add(o, "installed_host", NULL);
        for (size_t i = 0; i < p->n_disks; i++) {
                const struct plan_disk *d = &p->disks[i];
                struct json_object *j = json_object_new_object();
                add_str(j, "role", plan_disk_role_to_string(d->role));
                add_str(j, "path", d->path);
                add_str(j, "by_id", d->by_id);
                add_str(j, "model", d->model);
                add_str(j, "serial", d->serial);
                add_u64(j, "size_bytes", d->size_bytes);
                add_str(j, "holds", d->holds);
                add_bool(j, "erase", d->erase);
                add_bool(j, "keep_sr", d->keep_sr);
                json_object_array_add(disks, j);
        }
        json_object_object_add(o, "disks", disks);

        add_str(layout, "disk", p->disk);
        add_str(layout, "layout", p->layout.n_parts ? layout_kind_to_string(p->layout.layout) : NULL);
        add_u64(layout, "sector_size", p->layout.sector_size);
        for (size_t i = 0; i < p->layout.n_parts; i++) {
                const struct part_plan *pp = &p->layout.parts[i];
                struct json_object *j = json_object_new_object();
                add_u64(j, "number", pp->spec->number);
                add_str(j, "name", pp->spec->name);
                add_str(j, "filesystem", fs_kind_to_string(pp->spec->fs));
                add_u64(j, "start", pp->start);
                add_u64(j, "size", pp->size);
                add_u64(j, "size_bytes", pp->size * p->layout.sector_size);
                add_bool(j, "keep", pp->keep);
                json_object_array_add(parts, j);
        }
        json_object_object_add(layout, "partitions", parts);
        json_object_object_add(o, "layout", layout);

        struct json_object *sr = json_object_new_object();
        add_str(sr, "uuid", p->sr_uuid);
        add_str(sr, "type", sr_type_to_string(p->sr_type));
        add_bool(sr, "kept", p->keep_sr);
        json_object_object_add(o, "sr", sr);

        char slot_name[2] = {p->slot, 0};
        add_str(slot, "slot", slot_name);
        add_str(slot, "label", p->slot_label);
        add_str(slot, "fs_uuid", p->slot_fs_uuid);
        add_location(slot, "image", p->image.image);
        add_str(slot, "image_format", p->image.format);
        add_str(slot, "version", p->image.version);
        json_object_object_add(o, "slot", slot);

        for (size_t i = 0; i < p->n_files; i++) {
                const struct plan_file *pf = &p->files[i];
                struct json_object *j = json_object_new_object();
                add_str(j, "path", pf->path);
                add_str(j, "kind", plan_file_kind_names[pf->kind]);
                char mode[8];
                snprintf(mode, sizeof mode, "%04o", (unsigned) pf->mode);
                add_str(j, "mode", mode);
                /* /etc/shadow's content is made while applying: never here. */
                add_str(j, "content", pf->content);
                add_str(j, "why", pf->why);
                json_object_array_add(files, j);
        }
        json_object_object_add(o, "files", files);
        for (size_t i = 0; i < p->n_commands; i++) {
                struct json_object *j = json_object_new_object();
                json_object_object_add(j, "argv", strv_to_json(p->commands[i].argv));
                add_str(j, "why", p->commands[i].why);
                json_object_array_add(cmds, j);
        }
        json_object_object_add(o, "commands", cmds);

        struct json_object *entry = json_object_new_object();
        add_str(entry, "id", p->slot == 'b' ? "slot-b" : "slot-a");
        add_str(entry, "xen", p->xen_file);
        add_str(entry, "kernel", p->kernel_file);
        add_str(entry, "initrd", p->initrd_file);
        if (xen_cmdline(&p->boot, &cmdline) >= 0) {
                add_str(entry, "xen_cmdline", cmdline);
                free(cmdline);
        }
        if (dom0_cmdline(&p->boot, p->slot, &cmdline) >= 0) {
                add_str(entry, "dom0_cmdline", cmdline);
                free(cmdline);
        }
        struct json_object *entries = json_object_new_array();
        json_object_array_add(entries, entry);
        json_object_object_add(boot, "entries", entries);
        struct json_object *env = json_object_new_object();
        add_str(env, "default_slot", slot_name);
        add_str(env, "try_slot", NULL);
        add_u64(env, "tries_left", 0);
        json_object_object_add(boot, "grubenv", env);
        struct json_object *efi = json_object_new_object();
        add_bool(efi, "register", p->efi_entry);
        add_str(efi, "label", "xenhost");
        add_str(efi, "loader", "\\EFI\\xenhost\\grubx64.efi");
        add_u64(efi, "esp_partition", p->esp_partnum);
        json_object_object_add(boot, "efi_entry", efi);
        add_u64(boot, "dom0_memory_mib", dom0_memory_mib(p->boot.host_memory_bytes));
        add_bool(boot, "serial", p->boot.serial);
        json_object_object_add(o, "boot", boot);

        for (size_t st = 0; st < _SCRIPT_STAGE_MAX; st++) {
                struct json_object *a = json_object_new_array();
                for (size_t i = 0; i < p->n_scripts[st]; i++)
                        json_object_array_add(a, json_object_new_uint64(p->scripts[st][i]));
                json_object_object_add(scripts, script_stage_to_string((enum script_stage) st), a);
        }
        json_object_object_add(o, "scripts", scripts);

        struct json_object *packs = json_object_new_array();
        for (size_t i = 0; i < p->n_packs; i++) {
                struct json_object *j = json_object_new_object();
                json_object_object_add(j, "index", json_object_new_uint64(p->packs[i].index));
                add_str(j, "type", location_type_to_string(p->packs[i].type));
                if (p->packs[i].type == LOCATION_LOCAL)
                        add_str(j, "media_dir", PLAN_PACKS_MEDIA_DIR);
                if (p->packs[i].location)
                        add_str(j, "location", p->packs[i].location); /* a local pack's: its file name */
                json_object_array_add(packs, j);
        }
        json_object_object_add(o, "packs", packs);

        for (size_t i = 0; i < p->n_settings; i++) {
                struct json_object *j = json_object_new_object();
                add_str(j, "field", p->settings[i].field);
                add_str(j, "fate", setting_fate_to_string(p->settings[i].fate));
                add_str(j, "detail", p->settings[i].detail);
                json_object_array_add(settings, j);
        }
        json_object_object_add(o, "settings", settings);
        json_object_object_add(o, "warnings", strv_to_json(p->warnings));
        json_object_object_add(o, "errors", strv_to_json(p->errors));
        if (fa)
                json_object_object_add(o, "facts", facts_to_json(fa));

        fprintf(f, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        return ferror(f) ? -EIO : 0;
}

/* ---- facts from JSON ------------------------------------------------------ */

static int get_str(struct json_object *o, const char *k, char **ret) {
        struct json_object *v;
        *ret = NULL;
        if (!json_object_object_get_ex(o, k, &v) || json_object_is_type(v, json_type_null))
                return 0;
        if (!json_object_is_type(v, json_type_string))
                return -EBADMSG;
        *ret = strdup(json_object_get_string(v));
        return *ret ? 0 : -ENOMEM;
}

static uint64_t get_u64(struct json_object *o, const char *k) {
        struct json_object *v;
        return json_object_object_get_ex(o, k, &v) ? json_object_get_uint64(v) : 0;
}

static bool get_bool(struct json_object *o, const char *k) {
        struct json_object *v;
        return json_object_object_get_ex(o, k, &v) && json_object_get_boolean(v);
}

static int get_fixed(struct json_object *o, const char *k, char *buf, size_t n) {
        _cleanup_free_ char *s = NULL;
        int r = get_str(o, k, &s);
        if (r < 0)
                return r;
        snprintf(buf, n, "%s", s ?: "");
        return 0;
}

int install_facts_from_json(const char *text, struct install_facts **ret, char **ret_reason) {
        _cleanup_(install_facts_freep) struct install_facts *fa = calloc(1, sizeof *fa);
        struct json_object *root = json_tokener_parse(text), *o = root, *a, *img;
        int r = 0;

        if (!fa) {
                json_object_put(root);
                return -ENOMEM;
        }
        if (!root || !json_object_is_type(root, json_type_object)) {
                json_object_put(root);
                return reason_set(ret_reason, "the facts are not a JSON object"), -EBADMSG;
        }
        json_object_object_get_ex(root, "facts", &o);
        if (!o || !json_object_is_type(o, json_type_object))
                o = root;
        fa->memory_bytes = get_u64(o, "memory_bytes");
        fa->efi = get_bool(o, "efi");
        fa->cpu_virtualization = get_bool(o, "cpu_virtualization");
        fa->serial = get_bool(o, "serial");
        if (json_object_object_get_ex(o, "disks", &a) && json_object_is_type(a, json_type_array)) {
                size_t n = json_object_array_length(a);
                fa->disks = calloc(n ? n : 1, sizeof *fa->disks);
                if (!fa->disks)
                        r = -ENOMEM;
                for (size_t i = 0; r >= 0 && i < n; i++) {
                        struct json_object *j = json_object_array_get_idx(a, i);
                        struct disk_facts *d = &fa->disks[fa->n_disks++];
                        _cleanup_free_ char *layout = NULL, *srtype = NULL;
                        struct json_object *v;
                        if ((r = get_str(j, "path", &d->path)) < 0 || (r = get_str(j, "by_id", &d->by_id)) < 0 ||
                            (r = get_str(j, "model", &d->model)) < 0 || (r = get_str(j, "serial", &d->serial)) < 0 ||
                            (r = get_str(j, "partition_table", &d->pttype)) < 0 ||
                            (r = get_str(j, "signature", &d->signature)) < 0 ||
                            (r = get_str(j, "installed_version", &d->installed_version)) < 0 ||
                            (r = get_str(j, "sr_uuid", &d->sr_uuid)) < 0 || (r = get_str(j, "layout", &layout)) < 0 ||
                            (r = get_str(j, "sr_type", &srtype)) < 0)
                                break;
                        if (!d->path) {
                                r = -EBADMSG;
                                break;
                        }
                        d->size_bytes = get_u64(j, "size_bytes");
                        d->sector_size = (uint32_t) get_u64(j, "sector_size");
                        d->physical_sector_size = (uint32_t) get_u64(j, "physical_sector_size");
                        d->n_partitions = (unsigned) get_u64(j, "partitions");
                        d->is_xenhost = get_bool(j, "xenhost");
                        d->layout = layout ? layout_kind_from_string(layout) : LAYOUT_AUTO;
                        d->sr_type = srtype ? sr_type_from_string(srtype) : SR_LVM;
                        if (d->sr_type == _SR_TYPE_MAX)
                                d->sr_type = SR_LVM;
                        d->sr_volumes = json_object_object_get_ex(j, "sr_volumes", &v) ? json_object_get_int(v) : -1;
                        d->sr_start = get_u64(j, "sr_start");
                        d->sr_size = get_u64(j, "sr_size");
                        d->read_only = get_bool(j, "read_only");
                        struct json_object *loops;
                        if (json_object_object_get_ex(j, "loop_devices", &loops) &&
                            json_object_is_type(loops, json_type_array) && json_object_array_length(loops) > 0) {
                                size_t nl = json_object_array_length(loops);
                                d->loop_devices = calloc(nl + 1, sizeof(char *));
                                if (!d->loop_devices) {
                                        r = -ENOMEM;
                                        break;
                                }
                                for (size_t k = 0; k < nl; k++) {
                                        const char *l = json_object_get_string(json_object_array_get_idx(loops, k));
                                        if (!l || !(d->loop_devices[k] = strdup(l))) {
                                                r = l ? -ENOMEM : -EBADMSG;
                                                break;
                                        }
                                }
                                if (r < 0)
                                        break;
                        }
                        _cleanup_free_ char *ds = NULL, *ts = NULL;
                        if ((r = get_str(j, "default_slot", &ds)) < 0 || (r = get_str(j, "try_slot", &ts)) < 0)
                                break;
                        d->default_slot = ds && (streq(ds, "a") || streq(ds, "b")) ? ds[0] : 0;
                        d->try_slot = ts && (streq(ts, "a") || streq(ts, "b")) ? ts[0] : 0;
                        if (json_object_object_get_ex(j, "slot_versions", &v) &&
                            json_object_is_type(v, json_type_object) &&
                            ((r = get_str(v, "a", &d->slot_versions[0])) < 0 ||
                             (r = get_str(v, "b", &d->slot_versions[1])) < 0))
                                break;
                }
        }
        if (r >= 0 && json_object_object_get_ex(o, "nics", &a) && json_object_is_type(a, json_type_array)) {
                size_t n = json_object_array_length(a);
                fa->nics = calloc(n ? n : 1, sizeof *fa->nics);
                if (!fa->nics)
                        r = -ENOMEM;
                for (size_t i = 0; r >= 0 && i < n; i++) {
                        struct json_object *j = json_object_array_get_idx(a, i);
                        struct nic_facts *nf = &fa->nics[fa->n_nics++];
                        if ((r = get_str(j, "name", &nf->name)) < 0 || (r = get_str(j, "mac", &nf->mac)) < 0 ||
                            (r = get_str(j, "driver", &nf->driver)) < 0)
                                break;
                        nf->link = get_bool(j, "link");
                }
        }
        if (r >= 0 && json_object_object_get_ex(o, "image", &img) && json_object_is_type(img, json_type_object)) {
                struct image_facts *i = &fa->image;
                fa->has_image = true;
                if ((r = get_str(img, "image", &i->image)) >= 0 && (r = get_str(img, "manifest", &i->manifest)) >= 0 &&
                    (r = get_str(img, "source_url", &i->source_url)) >= 0 &&
                    (r = get_str(img, "version", &i->version)) >= 0 && (r = get_str(img, "build", &i->build)) >= 0 &&
                    (r = get_str(img, "format", &i->format)) >= 0 &&
                    (r = get_str(img, "xen_version", &i->xen_version)) >= 0)
                        r = get_str(img, "kernel_version", &i->kernel_version);
                i->image_size = get_u64(img, "image_size");
                i->installed_size = get_u64(img, "installed_size");
        }
        if (r >= 0 && (r = get_fixed(o, "installation_uuid", fa->installation_uuid, sizeof fa->installation_uuid)) >= 0 &&
            (r = get_fixed(o, "control_domain_uuid", fa->control_domain_uuid, sizeof fa->control_domain_uuid)) >= 0 &&
            (r = get_fixed(o, "sr_uuid", fa->sr_uuid, sizeof fa->sr_uuid)) >= 0 &&
            (r = get_fixed(o, "slot_fs_uuid", fa->slot_fs_uuid, sizeof fa->slot_fs_uuid)) >= 0)
                r = get_fixed(o, "date", fa->date, sizeof fa->date);
        json_object_put(root);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return reason_set(ret_reason, "the facts are malformed (a disk without a path, or a value of the "
                                  "wrong type)"), -EBADMSG;
        *ret = TAKE_PTR(fa);
        return 0;
}
