/* Xen command line and grub.cfg rendering, with the boot-counting logic that
 * GRUB runs against grubenv (the variables are described in boot.h). */
#include "bootcfg.h"

#include "boot.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"

uint64_t dom0_memory_mib(uint64_t host_memory_bytes) {
        uint64_t host_mib = host_memory_bytes / MiB;
        uint64_t m = 752 + host_mib / 20;
        if (m < 768)
                m = 768;
        if (m > 8192)
                m = 8192;
        return ROUND_UP(m, 16);
}

int xen_cmdline(const struct boot_options *o, char **ret) {
        uint64_t m = dom0_memory_mib(o->host_memory_bytes);
        int n;
        if (o->serial)
                n = asprintf(ret, "dom0_mem=%" PRIu64 "M,max:%" PRIu64 "M console=com1,vga com1=%u,8n1 loglvl=info "
                             "guest_loglvl=info", m, m, o->serial_speed ? o->serial_speed : 115200);
        else
                n = asprintf(ret, "dom0_mem=%" PRIu64 "M,max:%" PRIu64 "M console=vga loglvl=info guest_loglvl=info", m, m);
        return n < 0 ? -ENOMEM : 0;
}

int dom0_cmdline(const struct boot_options *o, char slot, char **ret) {
        (void) o;
        /* dom0's console is hvc0 whatever Xen uses: Xen owns the UART. */
        return asprintf(ret, "root=PARTLABEL=xh-dom0-%c ro console=hvc0 console=tty0", slot) < 0 ? -ENOMEM : 0;
}

int grub_cfg_render(const struct boot_options *o, const struct slot_boot *slots, unsigned n_slots, char **ret) {
        _cleanup_free_ char *xen = NULL;
        char *buf = NULL;
        size_t len = 0;
        FILE *f;
        int r;

        r = xen_cmdline(o, &xen);
        if (r < 0)
                return r;
        f = open_memstream(&buf, &len);
        if (!f)
                return -ENOMEM;
        fprintf(f, "# xenhost: written by the installer and the upgrader; do not edit.\n"
                   "# One file for the BIOS and the UEFI GRUB. grubenv on the ESP holds the\n"
                   "# default slot (xh_default) and the boot counting of a slot being tried\n"
                   "# after an upgrade (xh_try, xh_tries, xh_try_failed); see hypervisor/boot.h.\n"
                   "insmod part_gpt\n"
                   "insmod ext2\n"
                   "insmod multiboot2\n"
                   "set default=slot-%c\n"
                   /* Short: a host boots unattended, and every second here
                    * is a second of VM downtime at each upgrade reboot. The
                    * menu is still drawn, so the other slot stays one arrow
                    * key away (a key stops the countdown). */
                   "set timeout_style=menu\n"
                   "set timeout=1\n",
                o->default_slot);
        if (o->serial)
                fprintf(f, "serial --unit=0 --speed=%u\nterminal_input console serial\nterminal_output console serial\n",
                        o->serial_speed ? o->serial_speed : 115200);
        fputs("load_env xh_default xh_try xh_tries\n"
              "if [ \"${xh_default}\" = a -o \"${xh_default}\" = b ]; then\n"
              "  set default=\"slot-${xh_default}\"\n"
              "fi\n"
              "# Boot counting. GRUB script has no arithmetic: count down by hand. The\n"
              "# try is saved before the slot boots, so a boot that never reaches the\n"
              "# health check (panic, hang, reset) has used it up.\n"
              "if [ \"${xh_try}\" = a -o \"${xh_try}\" = b ]; then\n"
              "  unset xh_next\n",
              f);
        for (unsigned t = BOOT_TRIES_MAX; t >= 1; t--)
                fprintf(f, "  %s [ \"${xh_tries}\" = %u ]; then set xh_next=%u\n", t == BOOT_TRIES_MAX ? "if" : "elif",
                        t, t - 1);
        fputs("  fi\n"
              "  if [ -n \"${xh_next}\" ]; then\n"
              "    set xh_tries=\"${xh_next}\"\n"
              "    if save_env xh_tries; then\n"
              "      set fallback=\"${default}\"\n"
              "      set default=\"slot-${xh_try}\"\n"
              "      echo \"xenhost: trying slot ${xh_try}; tries left after this boot: ${xh_tries}\"\n"
              "    else\n"
              "      echo \"xenhost: cannot count the try of slot ${xh_try} in grubenv; booting ${default}\"\n"
              "    fi\n"
              "  else\n"
              "    # No tries left: the new slot never passed its health check. Boot the\n"
              "    # previous one and leave the mark for xenhost-upgrade status.\n"
              "    set xh_try_failed=\"${xh_try}\"\n"
              "    unset xh_try\n"
              "    unset xh_tries\n"
              "    save_env xh_try_failed xh_try xh_tries\n"
              "    echo \"xenhost: slot ${xh_try_failed} failed all its tries; booting ${default}\"\n"
              "  fi\n"
              "fi\n",
              f);
        /* Entries are named by version and slot only: which one boots is
         * grubenv's to say (the highlighted default), and a label such as
         * "previous version" would go stale at the next mark-good. */
        for (unsigned i = 0; i < n_slots; i++) {
                const struct slot_boot *s = &slots[i];
                _cleanup_free_ char *dom0 = NULL;
                r = dom0_cmdline(o, s->slot, &dom0);
                if (r < 0)
                        break;
                fprintf(f,
                        "menuentry 'xenhost %s (slot %c)' --id slot-%c {\n"
                        "  search --no-floppy --fs-uuid --set=root %s\n"
                        "  multiboot2 /boot/%s %s\n"
                        "  module2 /boot/%s %s\n"
                        "  module2 --nounzip /boot/%s\n"
                        "}\n",
                        s->version, s->slot, s->slot,
                        s->fs_uuid, s->xen, xen, s->kernel, dom0, s->initrd);
        }
        if (fclose(f) != 0 || r < 0) {
                free(buf);
                return r < 0 ? r : -ENOMEM;
        }
        *ret = buf;
        return 0;
}
