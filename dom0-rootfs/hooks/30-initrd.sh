#!/bin/bash
# The dom0 initrd: busybox, the init of usr/lib/xenhost/initrd, and the
# drivers that mounting the root needs on generic hardware (every storage
# controller the kernel has a module for: ATA/AHCI, NVMe, SCSI and SAS HBAs
# and RAID, virtio, USB storage, MMC; ext4 and its checksums). Built here,
# once, at image build time, so that every host boots the same initrd
# whatever its hardware, and a disk moved to another machine still boots.
# It replaces the one dracut made when the kernel was installed; dracut's
# kernel hook is left in place for the installer's own initrd only.
set -euo pipefail
tree=$1
shopt -s nullglob
kvers=("$tree"/lib/modules/*)
[ ${#kvers[@]} -eq 1 ] || { echo "30-initrd: expected one kernel in $tree/lib/modules" >&2; exit 1; }
kver=$(basename "${kvers[0]}")
mods=$tree/lib/modules/$kver
out=$tree/boot/initrd.img-$kver
stage=$(mktemp -d "${TMPDIR:-/var/tmp}/xh-initrd.XXXXXX")
trap 'rm -rf "$stage"' EXIT

mkdir -p "$stage"/{bin,dev,proc,sys,root,run,tmp} "$stage/lib/modules/$kver"
install -m 0755 "$tree/bin/busybox" "$stage/bin/busybox"
install -m 0755 "$tree/usr/lib/xenhost/initrd/init" "$stage/init"

# The modules, with every module they depend on (modules.dep of the tree).
# (A path this kernel lacks is a driver built in, or not built: skipped.)
paths=(kernel/drivers/ata kernel/drivers/nvme kernel/drivers/scsi kernel/drivers/message
       kernel/drivers/block/virtio_blk.ko kernel/drivers/virtio kernel/drivers/usb/storage kernel/drivers/usb/host
       kernel/drivers/usb/core kernel/drivers/usb/common kernel/drivers/mmc kernel/fs/ext4
       kernel/crypto/crc32c_generic.ko kernel/arch/x86/crypto/crc32c-intel.ko)
present=()
for p in "${paths[@]}"; do [ -e "$mods/$p" ] && present+=("$p"); done
want=$(cd "$mods" && find "${present[@]}" -name '*.ko*' | LC_ALL=C sort)
all=$(for m in $want; do
        echo "$m"
        sed -n "s|^$m:||p" "$mods/modules.dep" | tr ' ' '\n'
done | sed '/^$/d' | sort -u)
for m in $all; do
        mkdir -p "$stage/lib/modules/$kver/$(dirname "$m")"
        cp "$mods/$m" "$stage/lib/modules/$kver/$m"
done
cp "$mods"/modules.order "$mods"/modules.builtin "$mods"/modules.builtin.modinfo "$stage/lib/modules/$kver/" 2>/dev/null || true
# busybox's modprobe reads what busybox's depmod writes (dependencies and
# aliases of these modules only).
"$stage/bin/busybox" depmod -b "$stage" "$kver"
for f in "$stage/lib/modules/$kver"/modules.{dep,alias,symbols}; do
        [ -f "$f" ] && LC_ALL=C sort -o "$f" "$f"
done

# Reproducible: fixed dates and order, owner root.
epoch=${SOURCE_DATE_EPOCH:-0}
find "$stage" -exec touch -h -d "@$epoch" {} +
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 --reproducible) |
        zstd -q -15 -T1 >"$out.new"
chmod 0644 "$out.new"
mv "$out.new" "$out"
