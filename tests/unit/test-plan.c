/* The install plan, with no disk: facts are made up here, the plan is
 * checked for what an operator would look at. The walk test sets every
 * field of struct install_config in turn and checks that the plan applies
 * it (where it lands on the host), warns that it has no effect, or refuses
 * it: nothing is dropped in silence. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config.h"
#include "plan.h"

#define MAC "52:54:00:12:34:56"

static char *xstrdup(const char *s) {
        char *d = s ? strdup(s) : NULL;
        assert_true(!s || d);
        return d;
}

static void add_disk(struct install_facts *f, const char *path, uint64_t size, const char *model) {
        f->disks = reallocarray(f->disks, f->n_disks + 1, sizeof *f->disks);
        assert_non_null(f->disks);
        f->disks[f->n_disks++] = (struct disk_facts) {
                .path = xstrdup(path),
                .by_id = NULL,
                .model = xstrdup(model),
                .serial = xstrdup("SN-0001"),
                .size_bytes = size,
                .sector_size = 512,
                .physical_sector_size = 512,
                .sr_volumes = -1,
        };
}

static struct install_facts *facts_new(void) {
        struct install_facts *f = calloc(1, sizeof *f);
        assert_non_null(f);
        f->memory_bytes = 3 * GiB;
        f->efi = true;
        f->cpu_virtualization = true;
        add_disk(f, "/dev/vda", 50 * GB, "QEMU HARDDISK");
        f->disks[0].by_id = xstrdup("/dev/disk/by-id/virtio-xh0");
        add_disk(f, "/dev/vdb", 100 * GB, "QEMU HARDDISK");
        f->nics = calloc(1, sizeof *f->nics);
        assert_non_null(f->nics);
        f->nics[0] = (struct nic_facts) {.name = xstrdup("eth0"), .mac = xstrdup(MAC), .driver = xstrdup("virtio_net"),
                                         .link = true};
        f->n_nics = 1;
        f->has_image = true;
        f->image = (struct image_facts) {.image = xstrdup("/run/install/media/xenhost/xenhost-1.0.0.img"),
                                         .manifest = xstrdup("/run/install/media/xenhost/xenhost-1.0.0.manifest"),
                                         .version = xstrdup("1.0.0"),
                                         .build = xstrdup("20261126"),
                                         .format = xstrdup("ext4.zst"),
                                         .xen_version = xstrdup("4.17.5+72-g01dc8bf5e2-1"),
                                         .kernel_version = xstrdup("6.1.0-40-amd64"),
                                         .image_size = 300 * MiB,
                                         .installed_size = 900 * MiB};
        snprintf(f->installation_uuid, sizeof f->installation_uuid, "11111111-1111-4111-8111-111111111111");
        snprintf(f->control_domain_uuid, sizeof f->control_domain_uuid, "22222222-2222-4222-8222-222222222222");
        snprintf(f->sr_uuid, sizeof f->sr_uuid, "33333333-3333-4333-8333-333333333333");
        snprintf(f->slot_fs_uuid, sizeof f->slot_fs_uuid, "44444444-4444-4444-8444-444444444444");
        snprintf(f->date, sizeof f->date, "2026-11-26T08:00:00Z");
        return f;
}

/* The smallest config that installs: disk, management NIC, local source. */
static struct install_config *config_new(void) {
        struct install_config *c = NULL;
        assert_int_equal(install_config_new(&c), 0);
        c->primary_disk = xstrdup("vda");
        c->has_admin_interface = true;
        c->admin.name = xstrdup("eth0");
        c->admin.proto = NET_PROTO_DHCP;
        assert_int_equal(install_config_add_source(c, LOCATION_LOCAL, NULL), 0);
        return c;
}

static struct install_plan *plan_of(const struct install_config *c, const struct install_facts *f) {
        struct install_plan *p = NULL;
        assert_int_equal(install_plan_compute(c, f, &p), 0);
        assert_non_null(p);
        return p;
}

static bool strv_contains(char **l, const char *needle) {
        for (; l && *l; l++)
                if (strstr(*l, needle))
                        return true;
        return false;
}

static const char *file_content(const struct install_plan *p, const char *path) {
        const struct plan_file *f = install_plan_file(p, path);
        return f ? f->content : NULL;
}

static void test_fresh_plan(void **state) {
        (void) state;
        struct install_facts *f = facts_new();
        struct install_config *c = config_new();
        struct install_plan *p = plan_of(c, f);

        assert_int_equal(p->n_errors, 0);
        assert_int_equal(p->n_disks, 1);
        assert_string_equal(p->disks[0].path, "/dev/vda");
        assert_true(p->disks[0].erase);
        assert_false(p->disks[0].keep_sr);
        assert_string_equal(p->disks[0].holds, "nothing (blank)");
        assert_int_equal(p->layout.layout, LAYOUT_STANDARD);
        assert_int_equal(p->layout.n_parts, 7);
        assert_string_equal(p->sr_uuid, f->sr_uuid);
        assert_int_equal(p->slot, 'a');
        assert_string_equal(p->slot_label, "xh-dom0-a");
        /* The inventory names the disk by id, slot a and the SR. */
        const char *inv = file_content(p, "/etc/xenhost/inventory");
        assert_non_null(inv);
        assert_non_null(strstr(inv, "PRIMARY_DISK='/dev/disk/by-id/virtio-xh0'"));
        assert_non_null(strstr(inv, "ACTIVE_SLOT='a'"));
        assert_non_null(strstr(inv, "SR_UUID='33333333-3333-4333-8333-333333333333'"));
        assert_non_null(strstr(inv, "INSTALLATION_UUID='11111111-1111-4111-8111-111111111111'"));
        /* The boot entry loads this image's files from the slot's UUID. */
        assert_string_equal(p->xen_file, "xen-4.17-amd64.gz");
        assert_string_equal(p->kernel_file, "vmlinuz-6.1.0-40-amd64");
        assert_non_null(strstr(p->grub_cfg, "--set=root 44444444-4444-4444-8444-444444444444"));
        assert_non_null(strstr(p->grub_cfg, "multiboot2 /boot/xen-4.17-amd64.gz dom0_mem="));
        assert_non_null(strstr(file_content(p, "/boot/efi/grub/grub.cfg"), "root=PARTLABEL=xh-dom0-a"));
        assert_true(p->efi_entry);
        /* DHCP on the bridge, which takes the NIC's MAC. */
        const char *br = file_content(p, "/etc/systemd/network/30-xenbr0.network");
        assert_non_null(strstr(br, "DHCP=ipv4\n"));
        assert_non_null(strstr(br, "MACAddress=" MAC));
        assert_non_null(strstr(file_content(p, "/etc/systemd/network/20-management.network"), "MACAddress=" MAC));
        /* The standard layout mounts the logs partition. */
        assert_non_null(strstr(file_content(p, "/etc/fstab"), "PARTLABEL=xh-logs /var/log"));
        install_plan_free(p);
        install_config_free(c);
        install_facts_free(f);
}

static void test_compact_and_small(void **state) {
        (void) state;
        struct install_facts *f = facts_new();
        struct install_config *c = config_new();
        f->disks[0].size_bytes = 20 * GB;
        struct install_plan *p = plan_of(c, f);
        assert_int_equal(p->n_errors, 0);
        assert_int_equal(p->layout.layout, LAYOUT_COMPACT);
        assert_true(strv_contains(p->warnings, "compact layout"));
        assert_null(strstr(file_content(p, "/etc/fstab"), "xh-logs"));
        install_plan_free(p);
        f->disks[0].size_bytes = 10 * GB;
        p = plan_of(c, f);
        assert_int_equal(p->n_errors, 1);
        assert_true(strv_contains(p->errors, "needs at least 12 GiB"));
        install_plan_free(p);
        /* 16 KiB short of 12 GiB: the two sizes must not read the same. */
        f->disks[0].size_bytes = 12 * GiB - 16 * KiB;
        p = plan_of(c, f);
        assert_int_equal(p->n_errors, 1);
        assert_string_equal(p->errors[0], "/dev/vda is too small: 11.99 GiB (12884885504 bytes), xenhost needs at "
                                          "least 12 GiB (12884901888 bytes)");
        install_plan_free(p);
        install_config_free(c);
        install_facts_free(f);
}

static void set_existing_install(struct disk_facts *d, enum sr_type t, int volumes) {
        d->pttype = xstrdup("gpt");
        d->n_partitions = 7;
        d->is_xenhost = true;
        d->layout = LAYOUT_STANDARD;
        d->installed_version = xstrdup("0.9.0");
        d->sr_uuid = xstrdup("55555555-5555-4555-8555-555555555555");
        d->sr_type = t;
        d->sr_volumes = volumes;
        /* Where the standard layout puts the SR on a 50 GB disk. */
        d->sr_start = (2 + 512 + 18432 * 2 + 4096 + 1024) * 2048ull;
        d->sr_size = (50 * GB / 512 - 34) - d->sr_start - 2048;
}

static void test_reinstall_keeps_sr(void **state) {
        (void) state;
        struct install_facts *f = facts_new();
        struct install_config *c = config_new();
        set_existing_install(&f->disks[0], SR_EXT, 3);
        c->mode = INSTALL_MODE_REINSTALL;
        struct install_plan *p = plan_of(c, f);
        assert_int_equal(p->n_errors, 0);
        assert_true(p->keep_sr);
        assert_true(p->disks[0].keep_sr);
        assert_string_equal(p->sr_uuid, "55555555-5555-4555-8555-555555555555");
        /* The SR type is the kept SR's, whatever the config's default says. */
        assert_int_equal(p->sr_type, SR_EXT);
        assert_true(strv_contains(p->warnings, "kept as it is"));
        const struct part_plan *sr = disk_plan_find(&p->layout, PART_SR);
        assert_non_null(sr);
        assert_true(sr->keep);
        assert_int_equal(sr->start, f->disks[0].sr_start);
        assert_int_equal(sr->size, f->disks[0].sr_size);
        assert_string_equal(p->disks[0].holds, "xenhost 0.9.0 (standard layout), an ext SR with 3 volumes");
        assert_non_null(strstr(file_content(p, "/etc/fstab"),
                               "/dev/VG_XenStorage-55555555-5555-4555-8555-555555555555/XSLocalEXT-"));
        install_plan_free(p);

        /* A fresh install over the same disk says what it destroys. */
        c->mode = INSTALL_MODE_FRESH;
        p = plan_of(c, f);
        assert_int_equal(p->n_errors, 0);
        assert_false(p->keep_sr);
        assert_string_equal(p->sr_uuid, f->sr_uuid);
        assert_true(strv_contains(p->warnings, "erases the SR on /dev/vda and its 3 volumes"));
        install_plan_free(p);

        /* Reinstall over a blank disk: a new SR, and the operator is told. */
        c->mode = INSTALL_MODE_REINSTALL;
        p = plan_of(c, f);
        install_plan_free(p);
        install_facts_free(f);
        f = facts_new();
        p = plan_of(c, f);
        assert_false(p->keep_sr);
        assert_true(strv_contains(p->warnings, "holds no xenhost SR to keep"));
        install_plan_free(p);
        install_config_free(c);
        install_facts_free(f);
}

static void test_refusals(void **state) {
        (void) state;
        struct install_facts *f = facts_new();
        struct install_config *c = config_new();
        struct install_plan *p;

        free(c->primary_disk);
        c->primary_disk = xstrdup("sdz");
        p = plan_of(c, f);
        assert_true(strv_contains(p->errors, "the primary disk sdz is not on this machine"));
        install_plan_free(p);

        free(c->primary_disk);
        c->primary_disk = xstrdup("/dev/vda");
        f->memory_bytes = 512 * MiB;
        f->has_image = false;
        p = plan_of(c, f);
        assert_true(strv_contains(p->errors, "at least 1 GiB"));
        assert_true(strv_contains(p->errors, "no host image"));
        install_plan_free(p);

        install_config_free(c);
        install_facts_free(f);
}

/* ---- the walk: every field of struct install_config ------------------------ */

static void set_mode(struct install_config *c) { c->mode = INSTALL_MODE_REINSTALL; }
static void set_sr_type(struct install_config *c) { c->sr_type = SR_EXT; }
static void set_primary_disk(struct install_config *c) { free(c->primary_disk); c->primary_disk = xstrdup("/dev/vda"); }
static void set_guest_storage(struct install_config *c) { c->primary_disk_guest_storage = false; }
static void set_guest_disks(struct install_config *c) { assert_int_equal(install_config_add_guest_disk(c, "vdb"), 0); }
static void set_existing(struct install_config *c) { c->existing_installation = xstrdup("vda"); }
static void set_backup(struct install_config *c) { c->backup_disk = xstrdup("vda"); }
static void set_keymap(struct install_config *c) { c->keymap = xstrdup("de"); }
static void set_root_password(struct install_config *c) {
        c->root_password_type = ROOT_PASSWORD_PLAINTEXT;
        c->root_password = xstrdup("secret-pw-1");
}
static void set_sources(struct install_config *c) {
        /* The host image's source is the first. */
        assert_int_equal(install_config_add_source(c, LOCATION_URL, "http://192.0.2.1/xenhost/"), 0);
        struct location first = c->sources[0];
        c->sources[0] = c->sources[c->n_sources - 1];
        c->sources[c->n_sources - 1] = first;
}
static void set_packs(struct install_config *c) {
        assert_int_equal(install_config_add_pack(c, LOCATION_URL, "http://192.0.2.1/pack.iso"), 0);
}
static void set_admin_hwaddr(struct install_config *c) { free(c->admin.name); c->admin.name = NULL; c->admin.hwaddr = xstrdup(MAC); }
static void set_vlan(struct install_config *c) { c->admin.vlan = 42; }
static void set_static(struct install_config *c) {
        c->admin.proto = NET_PROTO_STATIC;
        c->admin.ipaddr = xstrdup("192.0.2.10");
        c->admin.subnet = xstrdup("255.255.255.0");
        c->admin.gateway = xstrdup("192.0.2.1");
}
static void set_ipv6_static(struct install_config *c) {
        c->admin.proto6 = NET_PROTO_STATIC;
        c->admin.ipv6 = xstrdup("2001:db8::10/64");
        c->admin.gateway6 = xstrdup("2001:db8::1");
}
static void set_ipv6_autoconf(struct install_config *c) { c->admin.proto6 = NET_PROTO_AUTOCONF; }
static void set_ipv6_dhcp(struct install_config *c) { c->admin.proto6 = NET_PROTO_DHCP; }
static void set_name_servers(struct install_config *c) {
        assert_int_equal(install_config_add_name_server(c, "192.0.2.53"), 0);
}
static void set_hostname(struct install_config *c) { c->hostname = xstrdup("rack7-host3"); }
static void set_timezone(struct install_config *c) { c->timezone = xstrdup("Europe/London"); }
static void set_ntp_manual(struct install_config *c) {
        c->ntp_source = NTP_SOURCE_MANUAL;
        assert_int_equal(install_config_add_ntp_server(c, "192.0.2.123"), 0);
}
static void set_ntp_dhcp(struct install_config *c) { c->ntp_source = NTP_SOURCE_DHCP; }
static void set_ntp_none(struct install_config *c) { c->ntp_source = NTP_SOURCE_NONE; }
static void set_ntp_servers_unused(struct install_config *c) {
        c->ntp_source = NTP_SOURCE_DHCP;
        assert_int_equal(install_config_add_ntp_server(c, "192.0.2.123"), 0);
}
static void set_ssh_off(struct install_config *c) { c->ssh_mode = SSH_MODE_OFF; }
static void set_services(struct install_config *c) {
        assert_int_equal(install_config_add_service(c, "libvirtd", false), 0);
}
static void set_scripts(struct install_config *c) {
        assert_int_equal(install_config_add_script(c, SCRIPT_STAGE_FILESYSTEM_POPULATED, LOCATION_URL,
                                                   "http://192.0.2.1/post.sh"), 0);
}
static void set_confirm(struct install_config *c) { c->confirm_before_writing = true; }
static void set_no_boot_entry(struct install_config *c) { c->write_boot_entry = false; }
static void set_no_bundled_packs(struct install_config *c) { c->bundled_packs = false; }
static void set_report(struct install_config *c) { c->report_url = xstrdup("http://user:pw@192.0.2.1/report"); }

struct walk_case {
        const char *field;          /* the plan's name of the field */
        void (*set)(struct install_config *c);
        enum setting_fate fate;
        const char *file;           /* with SETTING_APPLIED: where it lands, or NULL */
        const char *needle;         /* in that file's content, or in the setting's detail */
};

static const struct walk_case walk[] = {
        {"mode", set_mode, SETTING_APPLIED, NULL, "reinstall"},
        {"sr_type", set_sr_type, SETTING_APPLIED, "/etc/fstab", "XSLocalEXT-"},
        {"sr_type", set_sr_type, SETTING_APPLIED, "/etc/xenhost/inventory", "SR_TYPE='ext'"},
        {"primary_disk", set_primary_disk, SETTING_APPLIED, NULL, "/dev/vda"},
        {"primary_disk_guest_storage", set_guest_storage, SETTING_WARNED, NULL, "has no effect"},
        {"guest_disks", set_guest_disks, SETTING_APPLIED, NULL, "added whole to the SR"},
        {"existing_installation", set_existing, SETTING_WARNED, NULL, "no effect with mode=\"fresh\""},
        {"backup_disk", set_backup, SETTING_WARNED, NULL, "no effect with mode=\"fresh\""},
        {"keymap", set_keymap, SETTING_APPLIED, "/etc/vconsole.conf", "KEYMAP=de\n"},
        {"root_password", set_root_password, SETTING_APPLIED, NULL, "/etc/shadow"},
        {"sources", set_sources, SETTING_APPLIED, NULL, "the host image from http://192.0.2.1/xenhost/"},
        {"packs", set_packs, SETTING_APPLIED, NULL, "fetched and verified before the first write"},
        {"admin.hwaddr", set_admin_hwaddr, SETTING_APPLIED, "/etc/systemd/network/20-management.network",
         "MACAddress=" MAC},
        {"admin.vlan", set_vlan, SETTING_APPLIED, "/etc/systemd/network/15-management-vlan.netdev", "Id=42"},
        {"admin.vlan", set_vlan, SETTING_APPLIED, "/etc/systemd/network/20-management.network", "VLAN=mgmt42"},
        {"admin.proto", set_static, SETTING_APPLIED, "/etc/systemd/network/30-xenbr0.network",
         "Address=192.0.2.10/24\nGateway=192.0.2.1\n"},
        {"admin.proto6", set_ipv6_static, SETTING_APPLIED, "/etc/systemd/network/30-xenbr0.network",
         "Address=2001:db8::10/64\nGateway=2001:db8::1\n"},
        {"admin.proto6", set_ipv6_autoconf, SETTING_APPLIED, "/etc/systemd/network/30-xenbr0.network",
         "IPv6AcceptRA=yes"},
        {"admin.proto6", set_ipv6_dhcp, SETTING_APPLIED, "/etc/systemd/network/30-xenbr0.network", "DHCP=yes\n"},
        {"name_servers", set_name_servers, SETTING_APPLIED, "/etc/resolv.conf", "nameserver 192.0.2.53"},
        {"name_servers", set_name_servers, SETTING_APPLIED, "/etc/systemd/network/30-xenbr0.network",
         "DNS=192.0.2.53"},
        {"hostname", set_hostname, SETTING_APPLIED, "/etc/hostname", "rack7-host3\n"},
        {"hostname", set_hostname, SETTING_APPLIED, "/etc/hosts", "rack7-host3"},
        {"timezone", set_timezone, SETTING_APPLIED, "/etc/localtime", "/usr/share/zoneinfo/Europe/London"},
        {"timezone", set_timezone, SETTING_APPLIED, "/etc/timezone", "Europe/London"},
        {"ntp_servers", set_ntp_manual, SETTING_APPLIED, "/etc/systemd/timesyncd.conf.d/xenhost.conf",
         "NTP=192.0.2.123"},
        {"ntp_source", set_ntp_dhcp, SETTING_APPLIED, "/etc/systemd/network/30-xenbr0.network", "UseNTP=yes"},
        {"ntp_source", set_ntp_none, SETTING_APPLIED, NULL, "no time synchronisation"},
        {"ntp_servers", set_ntp_servers_unused, SETTING_REFUSED, NULL, "need NTP source manual"},
        {"ssh_mode", set_ssh_off, SETTING_APPLIED, NULL, "ssh.service disabled"},
        {"services", set_services, SETTING_APPLIED, NULL, "systemctl"},
        {"scripts", set_scripts, SETTING_APPLIED, NULL, "fetched before the first write"},
        {"confirm_before_writing", set_confirm, SETTING_APPLIED, NULL, "confirms on the console"},
        {"write_boot_entry", set_no_boot_entry, SETTING_APPLIED, NULL, "no UEFI boot entry"},
        {"bundled_packs", set_no_bundled_packs, SETTING_APPLIED, NULL, "packs the install media carry are not installed"},
        {"report_url", set_report, SETTING_APPLIED, NULL, "POSTed as JSON to http://***@192.0.2.1/report"},
};

/* Fields a walk case covers, by their struct member. When a field is added
 * to struct install_config, its size changes and this test says so: add a
 * walk case for it, then update the size. */
static void test_walk_every_field(void **state) {
        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(walk); i++) {
                const struct walk_case *w = &walk[i];
                struct install_facts *f = facts_new();
                struct install_config *c = config_new();
                w->set(c);
                struct install_plan *p = plan_of(c, f);
                const struct plan_setting *s = install_plan_setting(p, w->field);
                /* What validation refuses is an error of the plan, named by
                 * its field, before any setting is looked at. */
                if (w->fate == SETTING_REFUSED && !s) {
                        char needle[256];
                        snprintf(needle, sizeof needle, "%s: ", w->field);
                        if (!strv_contains(p->errors, needle) || !strv_contains(p->errors, w->needle))
                                fail_msg("walk %zu: %s: not refused with \"%s\"", i, w->field, w->needle);
                        install_plan_free(p);
                        install_config_free(c);
                        install_facts_free(f);
                        continue;
                }
                if (!s || s->fate != w->fate)
                        fail_msg("walk %zu: %s: expected %s, got %s (%s)", i, w->field, setting_fate_to_string(w->fate),
                                 s ? setting_fate_to_string(s->fate) : "nothing", s ? s->detail : "");
                if (w->file) {
                        const char *content = file_content(p, w->file);
                        if (!content || !strstr(content, w->needle))
                                fail_msg("walk %zu: %s: %s lacks \"%s\"", i, w->field, w->file, w->needle);
                } else if (!strstr(s->detail, w->needle))
                        fail_msg("walk %zu: %s: \"%s\" lacks \"%s\"", i, w->field, s->detail, w->needle);
                /* Warned and refused settings reach the operator. */
                if (w->fate == SETTING_WARNED)
                        assert_true(strv_contains(p->warnings, w->field));
                if (w->fate == SETTING_REFUSED)
                        assert_true(strv_contains(p->errors, w->field));
                else if (p->n_errors > 0)
                        fail_msg("walk %zu: %s: unexpected error: %s", i, w->field, p->errors[0]);
                install_plan_free(p);
                install_config_free(c);
                install_facts_free(f);
        }
        /* Every member of the struct (see config.h) has a case above. */
        assert_int_equal(sizeof(struct install_config), 280);
}

/* The facts written with the plan read back into the same plan. */
static void test_json_round_trip(void **state) {
        (void) state;
        struct install_facts *f = facts_new(), *g = NULL;
        struct install_config *c = config_new();
        set_existing_install(&f->disks[0], SR_LVM, 2);
        set_static(c);
        struct install_plan *p = plan_of(c, f), *q;
        char *a = NULL, *b = NULL, *reason = NULL;
        size_t na, nb;
        FILE *fa = open_memstream(&a, &na), *fb;
        assert_int_equal(install_plan_print_json(p, f, fa), 0);
        fclose(fa);
        assert_non_null(strstr(a, "\"holds\":\"xenhost 0.9.0 (standard layout), an lvm SR with 2 volumes\"") ?:
                        strstr(a, "\"holds\": \"xenhost 0.9.0 (standard layout), an lvm SR with 2 volumes\""));
        assert_int_equal(install_facts_from_json(a, &g, &reason), 0);
        q = plan_of(c, g);
        fb = open_memstream(&b, &nb);
        assert_int_equal(install_plan_print_json(q, g, fb), 0);
        fclose(fb);
        assert_string_equal(a, b);
        assert_int_equal(install_facts_from_json("[1]", &g, &reason), -EBADMSG);
        assert_non_null(reason);
        free(reason);
        free(a);
        free(b);
        install_plan_free(p);
        install_plan_free(q);
        install_config_free(c);
        install_facts_free(f);
        install_facts_free(g);
}

static void test_text_names_erased_disks(void **state) {
        (void) state;
        struct install_facts *f = facts_new();
        struct install_config *c = config_new();
        set_guest_disks(c);
        struct install_plan *p = plan_of(c, f);
        char *t = NULL;
        size_t n;
        FILE *out = open_memstream(&t, &n);
        assert_int_equal(install_plan_print(p, out), 0);
        fclose(out);
        assert_non_null(strstr(t, "primary /dev/vda, 50"));
        assert_non_null(strstr(t, "GB, QEMU HARDDISK, serial SN-0001"));
        assert_non_null(strstr(t, "guest /dev/vdb, 100"));
        assert_non_null(strstr(t, "ERASED and added whole to the SR"));
        assert_non_null(strstr(t, "Nothing has been written."));
        free(t);
        install_plan_free(p);
        install_config_free(c);
        install_facts_free(f);
}

/* ---- upgrade and restore: the installed host is kept ------------------------- */

/* vda holds xenhost: slot a with A, slot b with B (NULL: empty), DEFAULT boots. */
static void set_slots(struct disk_facts *d, const char *a, const char *b, char def) {
        set_existing_install(d, SR_LVM, 3);
        free(d->installed_version);
        d->installed_version = xstrdup(def == 'b' ? b : a);
        d->slot_versions[0] = xstrdup(a);
        d->slot_versions[1] = xstrdup(b);
        d->default_slot = def;
}

static struct install_config *config_keeps_host(enum install_mode m, const char *disk) {
        struct install_config *c = config_new();
        c->mode = m;
        if (m == INSTALL_MODE_UPGRADE)
                c->existing_installation = xstrdup(disk);
        else {
                c->backup_disk = xstrdup(disk);
                /* A restore installs nothing from any source. */
                for (size_t i = 0; i < c->n_sources; i++)
                        free(c->sources[i].address);
                free(c->sources);
                c->sources = NULL;
                c->n_sources = 0;
        }
        return c;
}

static void assert_refused(const struct install_config *c, const struct install_facts *f, const char *needle) {
        struct install_plan *p = plan_of(c, f);
        if (p->n_errors == 0 || !strv_contains(p->errors, needle))
                fail_msg("expected an error with \"%s\", got: %s", needle, p->n_errors ? p->errors[0] : "none");
        install_plan_free(p);
}

static void test_upgrade_plan(void **state) {
        (void) state;
        struct install_facts *f = facts_new();
        struct install_config *c = config_keeps_host(INSTALL_MODE_UPGRADE, "vda");
        set_slots(&f->disks[0], "0.9.0", NULL, 'a');
        c->hostname = xstrdup("rack7-host3");
        struct install_plan *p = plan_of(c, f);
        assert_int_equal(p->n_errors, 0);
        /* The slot that does not boot is written; nothing is erased. */
        assert_int_equal(p->default_slot, 'a');
        assert_int_equal(p->slot, 'b');
        assert_string_equal(p->slot_label, "xh-dom0-b");
        assert_int_equal(p->tries, 3);
        assert_false(p->noop);
        assert_int_equal(p->n_disks, 1);
        assert_string_equal(p->disks[0].path, "/dev/vda");
        assert_false(p->disks[0].erase);
        assert_true(p->disks[0].keep_sr);
        assert_true(p->keep_sr);
        assert_string_equal(p->sr_uuid, "55555555-5555-4555-8555-555555555555");
        assert_int_equal(p->layout.n_parts, 0);
        assert_int_equal(p->n_files, 0);
        assert_int_equal(p->n_commands, 0);
        assert_string_equal(p->image.manifest, f->image.manifest);
        const struct plan_setting *s = install_plan_setting(p, "existing_installation");
        assert_non_null(s);
        assert_int_equal(s->fate, SETTING_APPLIED);
        assert_non_null(strstr(s->detail, "xenhost 1.0.0 is written into slot b over nothing (it is empty)"));
        assert_non_null(strstr(s->detail, "falls back to slot a, 0.9.0"));
        assert_non_null(strstr(s->detail, "nothing is erased, the SR is kept"));
        /* A fresh install's settings have no effect, and say so. */
        const char *carried[] = {"primary_disk", "admin", "hostname"};
        for (size_t i = 0; i < ELEMENTSOF(carried); i++) {
                s = install_plan_setting(p, carried[i]);
                if (!s || s->fate != SETTING_WARNED || !strstr(s->detail, "carried over from the installed host"))
                        fail_msg("%s: not warned about (%s)", carried[i], s ? s->detail : "no fate");
        }
        assert_true(strv_contains(p->warnings, "hostname: rack7-host3 has no effect with mode=\"upgrade\""));
        install_plan_free(p);

        /* Slot b boots 0.9.0: slot a (with 0.8.0) is written. */
        install_facts_free(f);
        f = facts_new();
        set_slots(&f->disks[0], "0.8.0", "0.9.0", 'b');
        p = plan_of(c, f);
        assert_int_equal(p->n_errors, 0);
        assert_int_equal(p->slot, 'a');
        assert_non_null(strstr(install_plan_setting(p, "existing_installation")->detail,
                               "written into slot a over 0.8.0"));
        install_plan_free(p);

        /* The same version: nothing to do, said as a warning. */
        free(f->disks[0].slot_versions[1]);
        f->disks[0].slot_versions[1] = xstrdup("1.0.0");
        p = plan_of(c, f);
        assert_int_equal(p->n_errors, 0);
        assert_true(p->noop);
        assert_true(strv_contains(p->warnings, "installed in slot b already: nothing is written"));
        install_plan_free(p);

        /* Refusals, each with one line. */
        free(f->disks[0].slot_versions[1]);
        f->disks[0].slot_versions[1] = xstrdup("2.0.0");
        assert_refused(c, f, "xenhost 1.0.0 on the media is older than 2.0.0 in slot b of /dev/vda: refusing a "
                             "downgrade");
        f->disks[0].try_slot = 'a';
        assert_refused(c, f, "slot a of /dev/vda is still being tried after an upgrade");
        f->disks[0].try_slot = 0;
        f->disks[0].default_slot = 0;
        assert_refused(c, f, "cannot read the boot state of /dev/vda");
        f->disks[0].default_slot = 'b';
        f->has_image = false;
        assert_refused(c, f, "no host image");
        f->has_image = true;
        free(c->existing_installation);
        c->existing_installation = xstrdup("vdb");
        assert_refused(c, f, "existing_installation: /dev/vdb is not a xenhost disk (it holds nothing (blank))");
        free(c->existing_installation);
        c->existing_installation = xstrdup("sdz");
        assert_refused(c, f, "existing_installation: sdz is not on this machine");
        install_config_free(c);
        install_facts_free(f);
}

static void test_restore_plan(void **state) {
        (void) state;
        struct install_facts *f = facts_new();
        struct install_config *c = config_keeps_host(INSTALL_MODE_RESTORE, "vda");
        set_slots(&f->disks[0], "1.0.0", "0.9.0", 'a');
        f->has_image = false; /* a restore needs no media image */
        struct install_plan *p = plan_of(c, f);
        assert_int_equal(p->n_errors, 0);
        assert_int_equal(p->slot, 'b');
        assert_int_equal(p->tries, 3);
        assert_false(p->disks[0].erase);
        const struct plan_setting *s = install_plan_setting(p, "backup_disk");
        assert_int_equal(s->fate, SETTING_APPLIED);
        assert_non_null(strstr(s->detail, "slot b (xenhost 0.9.0) boots next, tried 3 times; slot a (1.0.0) stays "
                                          "the fallback"));
        install_plan_free(p);

        /* An upgrade being tried: the restore ends the try. */
        f->disks[0].try_slot = 'b';
        p = plan_of(c, f);
        assert_int_equal(p->n_errors, 0);
        assert_int_equal(p->slot, 'a');
        assert_int_equal(p->tries, 0);
        assert_non_null(strstr(install_plan_setting(p, "backup_disk")->detail,
                               "the try of slot b (0.9.0) is ended: slot a (1.0.0) boots next"));
        install_plan_free(p);
        f->disks[0].try_slot = 0;

        /* No disk named: the only xenhost disk is taken, and said so. */
        free(c->backup_disk);
        c->backup_disk = NULL;
        p = plan_of(c, f);
        assert_int_equal(p->n_errors, 0);
        assert_string_equal(p->disk, "/dev/vda");
        s = install_plan_setting(p, "backup_disk");
        assert_int_equal(s->fate, SETTING_DEFAULT);
        assert_non_null(strstr(s->detail, "the only xenhost disk"));
        install_plan_free(p);

        /* Two xenhost disks and none named; none at all; an empty other slot. */
        set_slots(&f->disks[1], "1.0.0", NULL, 'a');
        assert_refused(c, f, "backup_disk: 2 disks hold xenhost (/dev/vda, /dev/vdb): name one with <backup-disk>");
        f->disks[0].is_xenhost = f->disks[1].is_xenhost = false;
        assert_refused(c, f, "backup_disk: no disk of this machine holds a xenhost installation");
        c->backup_disk = xstrdup("vdb");
        f->disks[1].is_xenhost = true;
        assert_refused(c, f, "slot b of /dev/vdb holds no version to restore");
        install_config_free(c);
        install_facts_free(f);
}

/* The facts an upgrade plan rests on (the slots and the boot state) survive
 * the JSON round trip of --dry-run --json and --facts. */
static void test_keeps_host_json(void **state) {
        (void) state;
        struct install_facts *f = facts_new(), *g = NULL;
        struct install_config *c = config_keeps_host(INSTALL_MODE_UPGRADE, "vda");
        set_slots(&f->disks[0], "0.8.0", "0.9.0", 'b');
        f->disks[0].try_slot = 0;
        struct install_plan *p = plan_of(c, f), *q;
        char *a = NULL, *b = NULL, *reason = NULL;
        size_t na, nb;
        FILE *fa = open_memstream(&a, &na), *fb;
        assert_int_equal(install_plan_print_json(p, f, fa), 0);
        fclose(fa);
        assert_int_equal(install_facts_from_json(a, &g, &reason), 0);
        assert_int_equal(g->disks[0].default_slot, 'b');
        assert_string_equal(g->disks[0].slot_versions[0], "0.8.0");
        assert_string_equal(g->disks[0].slot_versions[1], "0.9.0");
        q = plan_of(c, g);
        fb = open_memstream(&b, &nb);
        assert_int_equal(install_plan_print_json(q, g, fb), 0);
        fclose(fb);
        assert_string_equal(a, b);
        assert_non_null(strstr(a, "\"written_slot\":\"a\"") ?: strstr(a, "\"written_slot\": \"a\""));
        free(a);
        free(b);
        /* The text plan says what is written and that nothing is erased. */
        char *t = NULL;
        size_t n;
        FILE *out = open_memstream(&t, &n);
        assert_int_equal(install_plan_print(p, out), 0);
        fclose(out);
        assert_non_null(strstr(t, "nothing is erased; the SR is kept as it is"));
        assert_non_null(strstr(t, "Slot a (xh-dom0-a) is written: xenhost 1.0.0 over 0.8.0"));
        assert_null(strstr(t, "ERASED"));
        free(t);
        install_plan_free(p);
        install_plan_free(q);
        install_config_free(c);
        install_facts_free(f);
        install_facts_free(g);
}

static char **strv_of(const char *a, const char *b) {
        char **l = calloc(3, sizeof(char *));
        assert_non_null(l);
        l[0] = xstrdup(a);
        l[1] = xstrdup(b);
        return l;
}

/* A disk that cannot be written, or whose file loop devices also write,
 * is refused with one line, whatever the install would do with it. */
static void test_unwritable_disks(void **state) {
        (void) state;
        struct install_facts *f = facts_new();
        struct install_config *c = config_new();

        f->disks[0].read_only = true;
        struct install_plan *p = plan_of(c, f);
        assert_int_equal(p->n_errors, 1);
        assert_string_equal(p->errors[0], "primary_disk: /dev/vda is read-only: nothing can be written to it");
        assert_int_equal(install_plan_setting(p, "primary_disk")->fate, SETTING_REFUSED);
        install_plan_free(p);

        f->disks[0].read_only = false;
        f->disks[0].loop_devices = strv_of("/dev/loop3", NULL);
        p = plan_of(c, f);
        assert_int_equal(p->n_errors, 1);
        assert_string_equal(p->errors[0], "primary_disk: /dev/vda is in use by loop device /dev/loop3, which may be "
                                          "mounted: detach it first (losetup -d)");
        install_plan_free(p);
        strv_free(f->disks[0].loop_devices);
        f->disks[0].loop_devices = strv_of("/dev/loop3", "/dev/loop12");
        p = plan_of(c, f);
        assert_int_equal(p->n_errors, 1);
        assert_string_equal(p->errors[0], "primary_disk: /dev/vda is in use by loop devices /dev/loop3, /dev/loop12, "
                                          "which may be mounted: detach them first (losetup -d)");
        install_plan_free(p);
        strv_free(f->disks[0].loop_devices);
        f->disks[0].loop_devices = NULL;

        /* A guest disk is erased too. */
        f->disks[1].read_only = true;
        c->guest_disks = strv_of("vdb", NULL);
        p = plan_of(c, f);
        assert_int_equal(p->n_errors, 1);
        assert_string_equal(p->errors[0], "guest_disks: /dev/vdb is read-only: nothing can be written to it");
        assert_int_equal(p->n_disks, 1);
        install_plan_free(p);
        install_config_free(c);

        /* An upgrade writes a slot and grubenv. */
        f->disks[1].read_only = false;
        c = config_keeps_host(INSTALL_MODE_UPGRADE, "vda");
        set_slots(&f->disks[0], "0.9.0", NULL, 'a');
        f->disks[0].read_only = true;
        p = plan_of(c, f);
        assert_true(p->n_errors >= 1);
        assert_true(strv_contains(p->errors, "existing_installation: /dev/vda is read-only"));
        install_plan_free(p);
        f->disks[0].read_only = false;
        p = plan_of(c, f);
        assert_int_equal(p->n_errors, 0);
        install_plan_free(p);
        install_config_free(c);
        install_facts_free(f);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fresh_plan),
                cmocka_unit_test(test_compact_and_small),
                cmocka_unit_test(test_reinstall_keeps_sr),
                cmocka_unit_test(test_refusals),
                cmocka_unit_test(test_walk_every_field),
                cmocka_unit_test(test_json_round_trip),
                cmocka_unit_test(test_text_names_erased_disks),
                cmocka_unit_test(test_upgrade_plan),
                cmocka_unit_test(test_restore_plan),
                cmocka_unit_test(test_keeps_host_json),
                cmocka_unit_test(test_unwritable_disks),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
