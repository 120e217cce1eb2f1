#!/bin/bash
# A bare Xen host disk, the yardstick of boot-bench.sh: stock Debian 12 as a
# person would set it up by hand (mmdebstrap minbase, the stock
# initramfs-tools initrd, GRUB for BIOS and UEFI, Debian's Xen 4.17), booting
# Xen and dom0 with the same command lines as an installed xenhost host
# (hypervisor/bootcfg.c), with a xenbr0 bridge on DHCP (systemd-networkd) and
# sshd. Once multi-user.target is reached with the network online and sshd
# started, a oneshot unit writes one "BARE-READY" line to the kernel log, so
# that it reaches the serial line through hvc0 with a kernel timestamp, as
# xenhost's health check writes its XENHOST-HEALTH line.
#
# The disk is built without mounts (this machine cannot mount vfat): an 8 GiB
# sparse GPT file, the root filled by mke2fs -d, the ESP by mtools, the GRUB
# images made by grub-mkimage and embedded by hand. It is cached under
# /var/cache/xenhost/bare-xen/<sha256 of this script>/disk.img: the script is
# the recipe, and the same script never builds twice. The packages come from
# the host's apt sources. Not part of `make check`.
#   tests/bench/bare-xen-disk.sh [--out IMG]
# Prints the path of the disk (the cached one, or IMG, a sparse copy of it).
# Needs root, mmdebstrap, gdisk, dosfstools, mtools, e2fsprogs,
# grub-pc-bin, grub-efi-amd64-bin.
set -euo pipefail
out=
while [ $# -gt 0 ]; do
        case "$1" in
        --out) out=$2; shift 2 ;;
        *) echo "bare-xen-disk: unknown argument $1" >&2; exit 2 ;;
        esac
done
die() { echo "bare-xen-disk: $*" >&2; exit 1; }
say() { echo "bare-xen-disk: $*" >&2; }

[ "$(id -u)" = 0 ] || die "must run as root (mmdebstrap --mode=root)"
for t in mmdebstrap:mmdebstrap sgdisk:gdisk mkfs.fat:dosfstools mcopy:mtools mke2fs:e2fsprogs \
        partx:util-linux grub-mkimage:grub-common; do
        command -v "${t%%:*}" >/dev/null || die "${t%%:*} is not installed (apt-get install ${t#*:})"
done
for d in i386-pc:grub-pc-bin x86_64-efi:grub-efi-amd64-bin; do
        [ -d "/usr/lib/grub/${d%%:*}" ] || die "/usr/lib/grub/${d%%:*} is missing (apt-get install ${d#*:})"
done

recipe=$(sha256sum "$0" | cut -d' ' -f1)
base=${XH_BARE_CACHE:-/var/cache/xenhost/bare-xen}
cache=$base/$recipe
disk=$cache/disk.img

publish() {
        if [ -n "$out" ]; then
                cp --sparse=always "$disk" "$out.tmp" && mv "$out.tmp" "$out"
                echo "$out"
        else
                echo "$disk"
        fi
}

mkdir -p "$base"
exec 9>"$base/$recipe.lock"
flock 9
if [ -f "$cache/complete" ]; then
        publish
        exit 0
fi

# What the disk holds. The Xen and dom0 command lines are xenhost's
# (hypervisor/bootcfg.c, serial console on com1): dom0_mem is
# dom0_memory_mib() of the 3 GiB guest that boot-bench.sh boots.
pkgs=linux-image-amd64,initramfs-tools,xen-hypervisor-4.17-amd64,xen-utils-4.17
pkgs=$pkgs,systemd-sysv,udev,kmod,iproute2,e2fsprogs,openssh-server
xen_args="dom0_mem=912M,max:912M console=com1,vga com1=115200,8n1 loglvl=info guest_loglvl=info"
root_uuid=5b1f3c2e-8d47-4a0e-9c36-b4a7e0d2f915
dom0_args="root=UUID=$root_uuid ro console=hvc0 console=tty0"

work=$cache.build
rm -rf "$work" "$cache"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
root=$work/rootfs

say "mmdebstrap of Debian 12 with Xen 4.17 (2-4 minutes; log in $work/mmdebstrap.log)"
# No mirror argument: the host's apt sources.
if ! mmdebstrap --mode=root --variant=minbase --include="$pkgs" bookworm "$root" >"$work/mmdebstrap.log" 2>&1; then
        cp "$work/mmdebstrap.log" "$base/$recipe.failed.log"
        die "mmdebstrap failed: $(grep -a -m1 -i 'error\|^E:' "$base/$recipe.failed.log" || tail -n1 "$base/$recipe.failed.log") (log: $base/$recipe.failed.log)"
fi
kver=$(cd "$root/boot" && ls vmlinuz-* | sed 's/^vmlinuz-//' | sort -V | tail -n1 || true)
xen=$(cd "$root/boot" && ls xen-*.gz | sort -V | tail -n1 || true)
[ -n "$kver" ] && [ -n "$xen" ] || die "no kernel or no Xen in the new root's /boot"
[ -f "$root/boot/initrd.img-$kver" ] || die "no initrd.img-$kver in the new root's /boot"

# The system: identity, fstab, network, and the ready line.
echo barexen >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tbarexen\n' >"$root/etc/hosts"
echo "UUID=$root_uuid / ext4 errors=remount-ro 0 1" >"$root/etc/fstab"
mkdir -p "$root/etc/systemd/network"
cat >"$root/etc/systemd/network/10-xenbr0.netdev" <<'EOF'
[NetDev]
Name=xenbr0
Kind=bridge
EOF
cat >"$root/etc/systemd/network/20-uplink.network" <<'EOF'
[Match]
Name=en* eth*

[Network]
Bridge=xenbr0
EOF
cat >"$root/etc/systemd/network/30-xenbr0.network" <<'EOF'
[Match]
Name=xenbr0

[Network]
DHCP=ipv4
EOF
cat >"$root/usr/local/sbin/bare-ready" <<'EOF'
#!/bin/sh
# One line on the console once the host is up: Xen, the bridge's address, sshd.
xen=$(cat /sys/hypervisor/version/major 2>/dev/null).$(cat /sys/hypervisor/version/minor 2>/dev/null)$(cat /sys/hypervisor/version/extra 2>/dev/null)
ip4=$(ip -4 -o addr show dev xenbr0 2>/dev/null | sed -n 's/.* inet \([0-9.\/]*\).*/\1/p' | head -n1)
sshd=$(systemctl is-active ssh.service)
echo "BARE-READY: xen=$xen xenbr0=${ip4:-none} sshd=$sshd" >/dev/kmsg
EOF
chmod 0755 "$root/usr/local/sbin/bare-ready"
cat >"$root/etc/systemd/system/bare-ready.service" <<'EOF'
[Unit]
Description=Bare Xen host: ready line on the console
After=multi-user.target network-online.target ssh.service xen.service
Wants=network-online.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/bare-ready

[Install]
WantedBy=multi-user.target
EOF
systemctl --root="$root" enable systemd-networkd.service systemd-networkd-wait-online.service ssh.service \
        bare-ready.service >/dev/null 2>&1 || die "systemctl enable in the new root failed"

# GRUB: one grub.cfg on the root for both firmware, with the modules beside it.
mkdir -p "$root/boot/grub"
cp -r /usr/lib/grub/i386-pc /usr/lib/grub/x86_64-efi "$root/boot/grub/"
cat >"$root/boot/grub/grub.cfg" <<EOF
insmod part_gpt
insmod ext2
insmod multiboot2
set default=0
set timeout_style=menu
set timeout=1
serial --unit=0 --speed=115200
terminal_input console serial
terminal_output console serial
menuentry 'Debian GNU/Linux 12, with Xen hypervisor' {
  search --no-floppy --fs-uuid --set=root $root_uuid
  multiboot2 /boot/$xen $xen_args
  module2 /boot/vmlinuz-$kver $dom0_args
  module2 --nounzip /boot/initrd.img-$kver
}
EOF
rm -rf "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/* "$root"/tmp/* "$root"/var/tmp/*

# The disk: p1 BIOS boot (core.img), p2 ESP (FAT32), p3 root (ext4).
img=$work/disk.img
truncate -s 8G "$img"
sgdisk -o -n 1:2048:+1M -t 1:EF02 -c 1:biosboot -n 2:0:+256M -t 2:EF00 -c 2:esp \
        -n 3:0:0 -t 3:8300 -c 3:root "$img" >/dev/null || die "sgdisk failed on $img"
part() { partx -g -n "$1" -o START,SECTORS "$img"; }
read -r p1s p1n < <(part 1)
read -r p2s p2n < <(part 2)
read -r p3s p3n < <(part 3)
say "root file system ($(du -sh "$root" | cut -f1)) into the disk"
mke2fs -q -F -t ext4 -U "$root_uuid" -L root -E offset=$((p3s * 512)) -d "$root" "$img" $((p3n / 2))k ||
        die "mke2fs -d failed"
# -s 2: 256 MiB of FAT32 with 8-sector clusters would be FAT16 by cluster count.
mkfs.fat -F 32 -s 2 -h "$p2s" -n ESP --offset="$p2s" "$img" $((p2n / 2)) >/dev/null 2>&1 || die "mkfs.fat failed"
export MTOOLS_SKIP_CHECK=1
esp="$img@@$((p2s * 512))"
cat >"$work/early.cfg" <<EOF
search --no-floppy --fs-uuid --set=root $root_uuid
set prefix=(\$root)/boot/grub
EOF
mods="part_gpt part_msdos ext2 fat search search_fs_uuid normal configfile echo test serial terminal
      multiboot2 gzio linux boot minicmd"
# shellcheck disable=SC2086 # one word per module
grub-mkimage -O x86_64-efi -o "$work/BOOTX64.EFI" -p /boot/grub -c "$work/early.cfg" $mods efi_gop efi_uga \
        all_video || die "grub-mkimage x86_64-efi failed"
mmd -i "$esp" ::/EFI ::/EFI/BOOT && mcopy -i "$esp" "$work/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI ||
        die "mtools could not write the ESP"
# BIOS: what grub-bios-setup does to embed core.img (it cannot target an image
# file here): core.img's blocklist starts at the BIOS boot partition's second
# sector (byte 500); boot.img loads core.img from its first sector (0x5c) and
# skips the floppy check (0x66); boot.img's code goes in the MBR, before the
# protective partition table.
# shellcheck disable=SC2086
grub-mkimage -O i386-pc -o "$work/core.img" -p /boot/grub -c "$work/early.cfg" biosdisk $mods ||
        die "grub-mkimage i386-pc failed"
[ "$(stat -c %s "$work/core.img")" -le $((p1n * 512)) ] || die "core.img does not fit in the BIOS boot partition"
le64() { local v=$1 i; for i in 0 1 2 3 4 5 6 7; do printf "\\$(printf '%03o' $(((v >> (8 * i)) & 255)))"; done; }
cp /usr/lib/grub/i386-pc/boot.img "$work/boot.img"
le64 $((p1s + 1)) | dd of="$work/core.img" bs=1 seek=500 conv=notrunc status=none
le64 "$p1s" | dd of="$work/boot.img" bs=1 seek=$((0x5c)) conv=notrunc status=none
printf '\220\220' | dd of="$work/boot.img" bs=1 seek=$((0x66)) conv=notrunc status=none
dd if="$work/core.img" of="$img" bs=512 seek="$p1s" conv=notrunc status=none
dd if="$work/boot.img" of="$img" bs=440 count=1 conv=notrunc status=none

mkdir -p "$cache"
mv "$img" "$disk"
{
        echo "recipe $recipe"
        echo "xen $xen"
        echo "kernel $kver"
        echo "xen-cmdline $xen_args"
        echo "dom0-cmdline $dom0_args"
        dpkg-query --admindir="$root/var/lib/dpkg" -W -f '${Package} ${Version}\n'
} >"$cache/manifest"
: >"$cache/complete"
say "built $disk ($xen, kernel $kver)"
# Disks of older recipes are of no further use: drop those nobody is using.
for old in "$base"/*/complete; do
        old=${old%/complete}
        [ "$old" = "$cache" ] && continue
        flock -n "$old.lock" rm -rf "$old" "$old.lock" 2>/dev/null || true
done
publish
