/* Writing a struct install_config back out as an answer file: the elements
 * and attributes answerfile.c reads, in their canonical spelling, each
 * written only when it differs from what the parser assumes when it is
 * missing, so that the file is short and reads back into the same config. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "answerfile-write.h"
#include "macro.h"

/* XML text or attribute value. */
static void put_escaped(FILE *f, const char *s) {
        for (; s && *s; s++)
                switch (*s) {
                case '<': fputs("&lt;", f); break;
                case '>': fputs("&gt;", f); break;
                case '&': fputs("&amp;", f); break;
                case '"': fputs("&quot;", f); break;
                case '\'': fputs("&apos;", f); break;
                default: fputc(*s, f);
                }
}

static void element(FILE *f, const char *indent, const char *name, const char *text) {
        fprintf(f, "%s<%s>", indent, name);
        put_escaped(f, text);
        fprintf(f, "</%s>\n", name);
}

static void location(FILE *f, const char *name, const char *extra, const struct location *l) {
        fprintf(f, "  <%s%s type=\"%s\"", name, extra, location_type_to_string(l->type));
        if (!l->address) {
                fputs("/>\n", f);
                return;
        }
        fputs(">", f);
        put_escaped(f, l->address);
        fprintf(f, "</%s>\n", name);
}

static void admin_interface(FILE *f, const struct admin_interface *a) {
        static const char *const protos[_NET_PROTO_MAX] = {
                [NET_PROTO_NONE] = "none", [NET_PROTO_DHCP] = "dhcp",
                [NET_PROTO_STATIC] = "static", [NET_PROTO_AUTOCONF] = "autoconf",
        };
        fputs("  <admin-interface", f);
        if (a->name) {
                fputs(" name=\"", f);
                put_escaped(f, a->name);
                fputs("\"", f);
        } else if (a->hwaddr) {
                fputs(" hwaddr=\"", f);
                put_escaped(f, a->hwaddr);
                fputs("\"", f);
        }
        fprintf(f, " proto=\"%s\"", a->proto < _NET_PROTO_MAX ? protos[a->proto] : "none");
        if (a->proto6 != NET_PROTO_NONE && a->proto6 < _NET_PROTO_MAX)
                fprintf(f, " protov6=\"%s\"", protos[a->proto6]);
        if (a->vlan)
                fprintf(f, " vlan=\"%u\"", a->vlan);
        bool v4 = a->proto == NET_PROTO_STATIC, v6 = a->proto6 == NET_PROTO_STATIC;
        if (!(v4 && (a->ipaddr || a->subnet || a->gateway)) && !(v6 && (a->ipv6 || a->gateway6))) {
                fputs("/>\n", f);
                return;
        }
        fputs(">\n", f);
        if (v4 && a->ipaddr)
                element(f, "    ", "ipaddr", a->ipaddr);
        if (v4 && a->subnet)
                element(f, "    ", "subnet", a->subnet);
        if (v4 && a->gateway)
                element(f, "    ", "gateway", a->gateway);
        if (v6 && a->ipv6)
                element(f, "    ", "ipv6", a->ipv6);
        if (v6 && a->gateway6)
                element(f, "    ", "gatewayv6", a->gateway6);
        fputs("  </admin-interface>\n", f);
}

int answerfile_write(const struct install_config *c, FILE *f) {
        bool fresh = c->mode == INSTALL_MODE_FRESH || c->mode == INSTALL_MODE_REINSTALL;

        fputs("<?xml version=\"1.0\"?>\n", f);
        if (fresh)
                fprintf(f, "<installation mode=\"%s\" srtype=\"%s\">\n", install_mode_to_string(c->mode),
                        sr_type_to_string(c->sr_type));
        else
                fprintf(f, "<%s>\n", install_mode_to_string(c->mode));

        if (fresh) {
                if (c->primary_disk) {
                        fprintf(f, "  <primary-disk%s>", c->primary_disk_guest_storage ? "" : " guest-storage=\"no\"");
                        put_escaped(f, c->primary_disk);
                        fputs("</primary-disk>\n", f);
                }
                for (char **g = c->guest_disks; g && *g; g++)
                        element(f, "  ", "guest-disk", *g);
                if (!c->bundled_packs)
                        element(f, "  ", "bundled-packs", "no");
                if (c->keymap)
                        element(f, "  ", "keymap", c->keymap);
                if (c->root_password_type == ROOT_PASSWORD_PLAINTEXT || c->root_password_type == ROOT_PASSWORD_HASH) {
                        fprintf(f, "  <root-password type=\"%s\">",
                                c->root_password_type == ROOT_PASSWORD_HASH ? "hash" : "plaintext");
                        put_escaped(f, c->root_password);
                        fputs("</root-password>\n", f);
                }
        }
        if (c->existing_installation)
                element(f, "  ", "existing-installation", c->existing_installation);
        if (c->backup_disk)
                element(f, "  ", "backup-disk", c->backup_disk);
        if (c->mode != INSTALL_MODE_RESTORE) {
                for (size_t i = 0; i < c->n_sources; i++)
                        location(f, "source", "", &c->sources[i]);
                for (size_t i = 0; i < c->n_packs; i++)
                        location(f, "pack", "", &c->packs[i]);
        }
        if (fresh) {
                if (c->has_admin_interface)
                        admin_interface(f, &c->admin);
                for (char **s = c->name_servers; s && *s; s++)
                        element(f, "  ", "name-server", *s);
                if (c->hostname)
                        element(f, "  ", "hostname", c->hostname);
                if (c->timezone)
                        element(f, "  ", "timezone", c->timezone);
                fprintf(f, "  <ntp source=\"%s\"/>\n", ntp_source_to_string(c->ntp_source));
                for (char **s = c->ntp_servers; s && *s; s++)
                        element(f, "  ", "ntp-server", *s);
                if (c->ssh_mode != SSH_MODE_ON)
                        element(f, "  ", "ssh-mode", ssh_mode_to_string(c->ssh_mode));
                for (size_t i = 0; i < c->n_services; i++) {
                        fputs("  <service name=\"", f);
                        put_escaped(f, c->services[i].name);
                        fprintf(f, "\" state=\"%s\"/>\n", c->services[i].enabled ? "enabled" : "disabled");
                }
        }
        if (c->mode != INSTALL_MODE_RESTORE && !c->write_boot_entry)
                fputs("  <bootloader write-boot-entry=\"no\">grub2</bootloader>\n", f);
        for (size_t i = 0; i < c->n_scripts; i++) {
                char extra[64];
                snprintf(extra, sizeof extra, " stage=\"%s\"", script_stage_to_string(c->scripts[i].stage));
                location(f, "script", extra, &c->scripts[i].location);
        }
        if (c->report_url) {
                fputs("  <report url=\"", f);
                put_escaped(f, c->report_url);
                fputs("\"/>\n", f);
        }
        if (c->confirm_before_writing)
                fputs("  <ui-confirmation-prompt>yes</ui-confirmation-prompt>\n", f);
        fprintf(f, "</%s>\n", fresh ? "installation" : install_mode_to_string(c->mode));

        if (fflush(f) != 0 || ferror(f))
                return errno > 0 ? -errno : -EIO;
        return 0;
}

int answerfile_format(const struct install_config *c, char **ret) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return -ENOMEM;
        int r = answerfile_write(c, f);
        if (fclose(f) != 0 && r == 0)
                r = -ENOMEM;
        if (r < 0) {
                if (buf)
                        explicit_bzero(buf, len);
                free(buf);
                return r;
        }
        *ret = buf;
        return 0;
}
