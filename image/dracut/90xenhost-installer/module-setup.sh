#!/bin/bash
# dracut module: the xenhost installer environment. The initrd never mounts
# a root file system; it runs the installer on the console and the serial
# line, with everything the installer runs.

check() {
        return 255 # only when asked for (--add xenhost-installer)
}

depends() {
        # Network for PXE installs is brought up by the installer itself
        # (dhclient), not by dracut: there is no network root to wait for.
        echo base kernel-modules
}

installkernel() {
        instmods sr_mod cdrom isofs squashfs overlay loop ext4 vfat nls_cp437 nls_iso8859_1 nls_utf8 \
                dm_mod dm_snapshot virtio_blk virtio_scsi virtio_pci virtio_net nvme ahci sd_mod usb_storage \
                uas xhci_pci ehci_pci e1000 e1000e efivarfs
}

install() {
        inst_multiple xenhost-install xenhost-partition timeout debugfs \
                mkfs.ext4 mke2fs e2fsck tune2fs resize2fs mkfs.fat mkswap wipefs blkid lsblk sfdisk partx losetup \
                lvm pvcreate vgcreate lvcreate vgchange vgs pvs lvs dmsetup mount umount sync setsid stty grep sed head tail cut tr sha256sum cpio chroot \
                grub-editenv efibootmgr curl ip dhclient /sbin/dhclient-script poweroff reboot \
                sleep date uname ls cp mv rm mkdir ln tar
        inst_libdir_file "libnss_dns.so.*" "libnss_files.so.*"
        # Supplemental packs of the answer file: their signatures (gpgv) and
        # rpm's own configuration, which librpm reads before any transaction.
        inst_multiple gpgv
        mkdir -p "$initdir/usr/lib/rpm"
        tar -C /usr/lib/rpm -cf - rpmrc macros macros.d platform 2>/dev/null | tar -C "$initdir/usr/lib/rpm" -xf - || return 1
        [ -e "$initdir/usr/lib/rpm/rpmrc" ] || { derror "xenhost-installer: no rpm configuration (/usr/lib/rpm/rpmrc)"; return 1; }
        # grub-install runs inside the new slot (chroot), which has GRUB.
        inst_simple /etc/xenhost-release
        inst_simple /etc/ssl/certs/ca-certificates.crt
        inst_simple /etc/lvm/lvm.conf
        # Answer-file validation looks time zones and console keymaps up in
        # these trees (installer/config.h: ZONEINFO_ROOT_DEFAULT from tzdata,
        # KEYMAPS_ROOT_DEFAULT from console-data). right/ (leap seconds) is
        # not a zone anyone names; localtime points out of the tree.
        mkdir -p "$initdir/usr/share/zoneinfo" "$initdir/usr/share/keymaps"
        tar -C /usr/share/zoneinfo --exclude=./right --exclude=./localtime -cf - . |
                tar -C "$initdir/usr/share/zoneinfo" -xf - || return 1
        tar -C /usr/share/keymaps -cf - . | tar -C "$initdir/usr/share/keymaps" -xf - || return 1
        # The interactive installer's terminals: the PC console (linux), the
        # serial consoles operators use (vt100, vt102, vt220) and the
        # emulators they reach them from (xterm, screen, tmux).
        local t f
        for t in l/linux v/vt100 v/vt102 v/vt220 x/xterm x/xterm-256color s/screen s/screen-256color t/tmux \
                t/tmux-256color d/dumb; do
                for f in /lib/terminfo/$t /usr/share/terminfo/$t; do
                        [ -e "$f" ] && { inst_simple "$f" "/usr/share/terminfo/$t"; break; }
                done
        done
        [ -e "$initdir/usr/share/terminfo/v/vt220" ] && [ -e "$initdir/usr/share/terminfo/l/linux" ] || {
                derror "xenhost-installer: no terminfo for linux and vt220 (ncurses-base)"
                return 1
        }
        inst_simple "$moddir/xenhost-installer-run" /usr/sbin/xenhost-installer-run
        inst_hook cmdline 99 "$moddir/xenhost-cmdline.sh"
        inst_hook pre-mount 50 "$moddir/xenhost-pre-mount.sh"
}
