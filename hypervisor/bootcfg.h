/* What boots a host: the Xen command line and the one grub.cfg on the ESP
 * that both the BIOS and the UEFI GRUB read (DESIGN.md section 4). Pure:
 * strings in, strings out. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct slot_boot {
        char slot;               /* 'a' or 'b' */
        const char *fs_uuid;     /* of the slot's ext4, for GRUB's search */
        const char *version;     /* xenhost version in the slot */
        const char *xen;         /* file under /boot: xen-4.17-amd64.gz */
        const char *kernel;      /* vmlinuz-6.1.0-56-amd64 */
        const char *initrd;      /* initrd.img-6.1.0-56-amd64 */
};

struct boot_options {
        uint64_t host_memory_bytes;
        bool serial;             /* installed on the serial console */
        unsigned serial_speed;   /* 115200 */
        char default_slot;       /* the active slot */
};

/* dom0's memory from the host's: 752 MiB plus 5% of the host, between 768 MiB
 * and 8 GiB, in whole 16 MiB (XenServer sizes dom0 the same way, so that big
 * hosts get a dom0 that can run many guests' backends). */
uint64_t dom0_memory_mib(uint64_t host_memory_bytes);

/* "dom0_mem=1024M,max:1024M console=com1 com1=115200,8n1 ..." */
int xen_cmdline(const struct boot_options *o, char **ret);
/* "root=PARTLABEL=xh-dom0-a ro console=hvc0 ..." */
int dom0_cmdline(const struct boot_options *o, char slot, char **ret);

/* The grub.cfg: one entry per slot that has a system (id slot-a, slot-b), O's
 * default_slot as the default until grubenv's xh_default takes over, and the
 * boot counting of grubenv's xh_try / xh_tries: each boot of a slot being
 * tried first counts one try down and saves it, and with none left GRUB boots
 * xh_default and records xh_try_failed (boot.h). */
int grub_cfg_render(const struct boot_options *o, const struct slot_boot *slots, unsigned n_slots, char **ret);
