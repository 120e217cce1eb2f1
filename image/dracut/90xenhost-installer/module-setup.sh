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
        inst_simple "$moddir/xenhost-installer-run" /usr/sbin/xenhost-installer-run
        inst_hook cmdline 99 "$moddir/xenhost-cmdline.sh"
        inst_hook pre-mount 50 "$moddir/xenhost-pre-mount.sh"
}
