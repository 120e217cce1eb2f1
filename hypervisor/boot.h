/* The boot writer: everything that makes a disk boot a slot, shared by the
 * installer and the upgrader (DESIGN.md sections 2, 4 and 8). GRUB for BIOS
 * and UEFI, the one grub.cfg on the ESP, grubenv with the boot-counting
 * state, and the UEFI boot entry. This is the module's whole public face; it
 * includes bootcfg.h (the Xen command line and the pure grub.cfg renderer).
 *
 * grubenv (ESP/grub/grubenv) holds, and only GRUB and this file write:
 *   xh_default=a|b     the slot GRUB boots when nothing is being tried
 *   xh_try=a|b         the slot being tried after an upgrade (absent otherwise)
 *   xh_tries=0..9      with xh_try: boots of it left; GRUB counts them down
 *   xh_try_failed=a|b  set by GRUB when a try ran out of boots and it fell
 *                      back to xh_default; cleared when a new try is armed or
 *                      that slot is marked good */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "bootcfg.h"

/* Boots a new slot gets after an upgrade (DESIGN.md section 8), and the most
 * grub.cfg's count-down chain knows (GRUB script has no arithmetic). */
#define BOOT_TRIES_DEFAULT 3U
#define BOOT_TRIES_MAX 9U

/* The size of a grubenv block: GRUB's save_env rewrites it in place. */
#define BOOT_ENV_SIZE 1024U

/* Which slot boots next, and the boot-counting state, as kept in grubenv. */
struct boot_state {
        char default_slot;     /* 'a' or 'b': the slot GRUB boots when nothing is being tried;
                                * 0 when grubenv names none (grub.cfg's own default applies) */
        char try_slot;         /* 0, or the slot being tried after an upgrade */
        unsigned tries_left;   /* with try_slot: boots left before GRUB falls back (3 after an
                                * upgrade); 0 means the next boot falls back */
        char try_failed;       /* 0, or the slot whose tries ran out (GRUB booted default_slot) */
};

/* grubenv's 1024-byte block ("# GRUB Environment Block\n", KEY=value lines, '#'
 * padding). Pure. */
int boot_env_render(const struct boot_state *s, char **ret); /* exactly 1024 bytes, NUL-terminated */
/* -EBADMSG on a block that is not grubenv, or whose xh_* values are not ones
 * this module or GRUB's count-down write. Other variables are ignored. */
int boot_env_parse(const char *text, size_t len, struct boot_state *ret);

/* Reads ESP/grub/grubenv. -ENOENT when there is none. */
int boot_state_read(const char *esp, struct boot_state *ret);

/* Makes SLOT the default: with TRIES == 0 as a good slot (default_slot = SLOT,
 * nothing tried); with TRIES > 0 as the slot to try (try_slot = SLOT,
 * tries_left = TRIES, default_slot unchanged so that GRUB falls back to it;
 * when grubenv names no default yet, the other slot). A try of the slot that
 * is already the default is refused (-EINVAL): nothing to fall back to.
 * Writes ESP/grub/grubenv through a temporary file, fsync and rename
 * (write_file_atomic), always exactly BOOT_ENV_SIZE bytes so that GRUB's
 * save_env can rewrite it in place. */
int boot_set_default(const char *esp, char slot, unsigned tries, char **ret_reason);
/* Marks the running slot good: default_slot = SLOT, try state cleared (for the
 * health check / mark-good). A failure mark of the other slot is kept, so that
 * status can still say that its try failed. */
int boot_mark_good(const char *esp, char slot, char **ret_reason);

/* Installs GRUB for BIOS (core into the xh-bios partition of DISK, modules on
 * the ESP) and for UEFI (EFI/BOOT/BOOTX64.EFI and EFI/xenhost/grubx64.efi),
 * from the GRUB of the slot mounted at ROOT, whose ESP is mounted at
 * ROOT/boot/efi. On a disk whose logical sectors are not 512 bytes (4Kn) there
 * is no BIOS run: a BIOS cannot boot such a disk (boot_bios_bootable()); the
 * install log says so. Binds /dev, /proc, /sys into ROOT (recursive, as slaves, so
 * that nothing propagates back to the host's mounts) for the time of the
 * grub-install runs and unmounts them again, also on failure. */
int boot_loader_install(const char *root, const char *disk, char **ret_reason);
/* Writes ESP/grub/grub.cfg (atomically) for the given slots: grub_cfg_render(). */
int boot_config_write(const char *esp, const struct boot_options *o, const struct slot_boot *slots,
                      unsigned n_slots, char **ret_reason);
/* Registers the UEFI boot entry LABEL -> LOADER (e.g. "\\EFI\\xenhost\\grubx64.efi")
 * on partition ESP_PARTNUM of DISK with efibootmgr (an existing entry with the
 * same label is replaced, not duplicated), and puts it first in BootOrder
 * (efibootmgr -c puts a new entry first). */
int boot_efi_register(const char *disk, unsigned esp_partnum, const char *label, const char *loader,
                      char **ret_reason);

/* The child processes above, as pure functions for tests and --dry-run. */
struct boot_cmd {
        const char *what;       /* "grub-install for BIOS" */
        const char *argv[16];   /* NULL-terminated; points into the arguments and static strings */
};
#define BOOT_GRUB_INSTALL_RUNS 3
/* Whether a BIOS can boot a disk with SECTOR_SIZE-byte logical sectors: only
 * 512 (int 13h reads 512-byte sectors). 0 means not known (not a block
 * device) and counts as bootable. */
bool boot_bios_bootable(unsigned sector_size);
/* The grub-install runs of boot_loader_install() in their order: BIOS (only
 * when boot_bios_bootable(SECTOR_SIZE)), UEFI removable path
 * (EFI/BOOT/BOOTX64.EFI), UEFI EFI/xenhost. DISK is the resolved device
 * node. Returns how many runs were written to RET. */
size_t boot_grub_install_cmds(const char *root, const char *disk, unsigned sector_size,
                              struct boot_cmd ret[BOOT_GRUB_INSTALL_RUNS]);
/* efibootmgr -q -c -d DISK -p PARTNUM -L LABEL -l LOADER */
void boot_efi_create_cmd(const char *disk, const char *partnum, const char *label, const char *loader,
                         struct boot_cmd *ret);
/* The boot numbers of the entries called LABEL in efibootmgr's listing; at
 * most N_MAX of them into RET. Returns how many were found (may exceed N_MAX). */
int boot_efi_find_entries(const char *listing, const char *label, unsigned *ret, size_t n_max);
