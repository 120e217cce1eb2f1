#!/bin/bash
# xenhost-partition on sparse image files and loop devices, checked with
# independent tools: sfdisk --json, blkid -p, dumpe2fs -h, pvs/vgs.
. "$(dirname "$0")/../lib.sh"

P=xenhost-partition
[ "$(id -u)" -eq 0 ] || { not_ok "integration tests need root (loop devices)"; t_finish; exit 1; }

# check_layout DESC DISK PLAN_JSON: every planned partition is on the disk
# with its number, name, type GUID, start and size, as sfdisk reads them.
check_layout() {
        local desc=$1 disk=$2 plan=$3 want got
        want=$(jq -c '[.partitions[] | {n: .number, name, type: .type_guid, start, size}]' "$plan")
        got=$(sfdisk --json "$disk" | jq -c '[.partitiontable.partitions[] |
                {n: (.node | capture("(?<n>[0-9]+)$").n | tonumber), name, type, start, size}]')
        check_eq "$desc: sfdisk sees the planned GPT" "$want" "$got"
}

# blkid_part DISK NUMBER SECTOR: blkid -p of one partition of an image file.
blkid_part() {
        local off
        off=$(sfdisk --json "$1" | jq ".partitiontable.partitions[] | select(.node | endswith(\"$2\")) | .start")
        blkid -p -O $((off * $3)) -o export "$1"
}

check_filesystems() { # DESC DISK SECTOR LAYOUT
        local desc=$1 disk=$2 ss=$3 layout=$4 l
        check_eq "$desc: ESP is FAT32 labelled XH-ESP" "vfat FAT32 XH-ESP" \
                "$(blkid_part "$disk" 2 "$ss" | awk -F= '/^TYPE=/{t=$2} /^VERSION=/{v=$2} /^LABEL=/{l=$2} END{print t, v, l}')"
        for l in 3:xh-dom0-a 4:xh-dom0-b; do
                check_eq "$desc: partition ${l%%:*} is ext4 labelled ${l#*:}" "ext4 ${l#*:}" \
                        "$(blkid_part "$disk" "${l%%:*}" "$ss" | awk -F= '/^TYPE=/{t=$2} /^LABEL=/{l=$2} END{print t, l}')"
        done
        if [ "$layout" = standard ]; then
                check_eq "$desc: logs ext4" "ext4 xh-logs" \
                        "$(blkid_part "$disk" 5 "$ss" | awk -F= '/^TYPE=/{t=$2} /^LABEL=/{l=$2} END{print t, l}')"
                check_eq "$desc: swap" "swap xh-swap" \
                        "$(blkid_part "$disk" 6 "$ss" | awk -F= '/^TYPE=/{t=$2} /^LABEL=/{l=$2} END{print t, l}')"
        fi
        check_eq "$desc: SR is an LVM PV" "LVM2_member" \
                "$(blkid_part "$disk" 7 "$ss" | sed -n 's/^TYPE=//p')"
}

# --- 50 GB (decimal) sparse image: standard layout ---------------------
D50=$T_DIR/d50.img
truncate -s 50000000000 "$D50"
check "plan on a blank 50 GB image" $P plan "$D50"
$P plan --json "$D50" >"$T_DIR/p50.json"
check_eq "plan picks the standard layout" "standard 7" "$(jq -r '"\(.layout) \(.partitions | length)"' "$T_DIR/p50.json")"
check_eq "plan writes nothing" "0" "$(du -k "$D50" | cut -f1)"
check_eq "plan output is stable" "$($P plan --json "$D50")" "$(cat "$T_DIR/p50.json")"
start=$(date +%s.%N)
check "apply --plan on the 50 GB image" $P apply "$D50" --plan "$T_DIR/p50.json" --sr-uuid 0b5e1d3c-55f2-4bd2-9d6c-6a2b1c0e7f10
echo "# apply on 50 GB sparse image: $(echo "$(date +%s.%N) - $start" | bc) s"
check_layout "50 GB" "$D50" "$T_DIR/p50.json"
check_filesystems "50 GB" "$D50" 512 standard
off=$(jq '.partitions[2].start_bytes' "$T_DIR/p50.json")
L=$(loop_attach -o "$off" --sizelimit $((18432 * 1048576)) "$D50")
check_eq "dumpe2fs: slot a label and size" "xh-dom0-a 4718592" \
        "$(dumpe2fs -h "$L" 2>/dev/null | awk -F': *' '/^Filesystem volume name/{n=$2} /^Block count/{c=$2} END{print n, c}')"
losetup -d "$L"
check_eq "show: a xenhost disk with its SR" \
        "true standard VG_XenStorage-0b5e1d3c-55f2-4bd2-9d6c-6a2b1c0e7f10" \
        "$($P show --json "$D50" | jq -r '"\(.xenhost) \(.layout) \(.sr_vg)"')"
check "show prints the slots" bash -c "$P show $D50 | grep -q 'dom0 slot b'"

# A disk with contents: refused without --wipe, byte for byte untouched.
before=$(fingerprint "$D50")
check_fails "apply without --wipe on a xenhost disk is refused" $P apply "$D50"
$P apply "$D50" 2>"$T_DIR/err" >/dev/null
check_eq "the refusal is one line naming --wipe" "1 yes" \
        "$(wc -l <"$T_DIR/err") $(grep -q -- --wipe "$T_DIR/err" && echo yes)"
check_eq "the refused disk is byte-identical" "$before" "$(fingerprint "$D50")"

# --keep-sr: write "VM data" into the SR, reinstall, SR bytes unchanged.
sr_start=$(jq '.partitions[6].start_bytes' "$T_DIR/p50.json")
sr_size=$(jq '.partitions[6].size_bytes' "$T_DIR/p50.json")
printf 'VM DISK DATA %.0s' $(seq 1 1000) | dd of="$D50" bs=1M seek=$((sr_start / 1048576 + 8)) conv=notrunc status=none
sr_before=$(fingerprint "$D50" "$sr_start" "$sr_size")
sr_entry=$(sfdisk --json "$D50" | jq -c '.partitiontable.partitions[6]')
slot_uuid=$(blkid_part "$D50" 3 512 | sed -n 's/^UUID=//p')
check_fails "--keep-sr alone is not consent" $P apply "$D50" --keep-sr
check "apply --wipe --keep-sr" $P apply "$D50" --wipe --keep-sr
check_eq "kept SR partition is byte-identical" "$sr_before" "$(fingerprint "$D50" "$sr_start" "$sr_size")"
check_eq "kept SR GPT entry (start, size, GUIDs, name) is unchanged" "$sr_entry" \
        "$(sfdisk --json "$D50" | jq -c '.partitiontable.partitions[6]')"
check "the slots were recreated" test "$slot_uuid" != "$(blkid_part "$D50" 3 512 | sed -n 's/^UUID=//p')"
check_eq "SR still found by show" "VG_XenStorage-0b5e1d3c-55f2-4bd2-9d6c-6a2b1c0e7f10" \
        "$($P show --json "$D50" | jq -r .sr_vg)"

# A saved plan for another disk is refused before any write.
truncate -s 60G "$T_DIR/d60.img"
check_fails "a plan made for another disk size is refused" $P apply "$T_DIR/d60.img" --plan "$T_DIR/p50.json"
check_eq "...and the disk is untouched" "0" "$(du -k "$T_DIR/d60.img" | cut -f1)"
rm -f "$T_DIR/d60.img"

# --- 20 GB image: compact layout ---------------------------------------
D20=$T_DIR/d20.img
truncate -s 20000000000 "$D20"
$P plan --json "$D20" >"$T_DIR/p20.json"
check_eq "20 GB plan is compact with partitions 1 2 3 4 7" "compact 1 2 3 4 7" \
        "$(jq -r '"\(.layout) \([.partitions[].number] | join(" "))"' "$T_DIR/p20.json")"
check_fails "standard layout refused on 20 GB" $P plan --layout standard "$D20"
check "apply compact with an ext SR" $P apply "$D20" --sr-type ext
check_layout "20 GB" "$D20" "$T_DIR/p20.json"
check_filesystems "20 GB" "$D20" 512 compact
check_eq "show: compact xenhost disk" "true compact" "$($P show --json "$D20" | jq -r '"\(.xenhost) \(.layout)"')"
# Keeping a compact disk's SR leaves no room for the standard layout.
before=$(fingerprint "$D20")
check_fails "standard layout does not fit before a compact SR" $P apply "$D20" --wipe --keep-sr --layout standard
check_eq "...and the disk is untouched" "$before" "$(fingerprint "$D20")"

# A disk with only a filesystem signature counts as contents too.
D13=$T_DIR/d13.img
truncate -s 13G "$D13"
mkfs.ext4 -q -F "$D13"
before=$(fingerprint "$D13")
check_fails "a whole-disk ext4 is refused without --wipe" $P apply "$D13"
check_eq "...and the disk is untouched" "$before" "$(fingerprint "$D13")"
check "with --wipe it is laid out" $P apply --wipe "$D13"
check_eq "the old ext4 signature is gone from the whole disk" "gpt" "$(blkid -p -o value -s PTTYPE "$D13")"
rm -f "$D13"

# Too small.
truncate -s $((12 * 1024 - 1))M "$T_DIR/small.img"
check_fails "a disk below 12 GiB is refused" $P plan "$T_DIR/small.img"
$P plan "$T_DIR/small.img" 2>"$T_DIR/err"
check_eq "...with one line saying 12 GiB" "1 yes" "$(wc -l <"$T_DIR/err") $(grep -q '12 GiB' "$T_DIR/err" && echo yes)"
# 16 KiB short of 12 GiB rounds to "12.0 GiB": the line must not say the
# disk has what it needs.
truncate -s $((12 * 1024 * 1024 * 1024 - 16384)) "$T_DIR/small.img"
$P apply --wipe "$T_DIR/small.img" >/dev/null 2>"$T_DIR/err"
check_eq "just below 12 GiB: the sizes differ in the one line" \
        "xenhost-partition: $T_DIR/small.img is too small: 11.99 GiB (12884885504 bytes), xenhost needs at least 12 GiB (12884901888 bytes)" \
        "$(cat "$T_DIR/err")"
truncate -s 45999999488 "$T_DIR/small.img"
$P plan --layout standard "$T_DIR/small.img" >/dev/null 2>"$T_DIR/err"
check_eq "just below 46 GB: the sizes differ for the standard layout too" \
        "xenhost-partition: $T_DIR/small.img is too small for the standard layout: 45.99 GB (45999999488 bytes), it needs 46 GB (46000000000 bytes); use --layout compact" \
        "$(cat "$T_DIR/err")"
rm -f "$T_DIR/small.img"

# --- disks that must not be written ------------------------------------
# An image file attached to another loop device (it may be mounted there):
# refused by plan and apply --wipe, before any plan is printed, with one
# line naming the loop device, and left byte for byte as it was.
DU=$T_DIR/inuse.img
truncate -s 13G "$DU"
mkfs.ext4 -q -F "$DU"
before=$(fingerprint "$DU")
LU=$(loop_attach "$DU")
refused() { # DESC EXPECTED-LINE COMMAND...: fails, prints no plan, says EXPECTED-LINE only
        local desc=$1 want=$2 rc; shift 2
        "$@" >"$T_DIR/out" 2>"$T_DIR/err"; rc=$?
        check_eq "$desc: refused" 1 "$rc"
        check_eq "$desc: no plan is printed" "" "$(cat "$T_DIR/out")"
        check_eq "$desc: one line says why" "$want" "$(cat "$T_DIR/err")"
}
refused "file attached to $LU: apply --wipe" \
        "xenhost-partition: $DU is attached to loop device $LU, which may be mounted: detach it first (losetup -d)" \
        $P apply --wipe "$DU"
refused "file attached to $LU: plan" \
        "xenhost-partition: $DU is attached to loop device $LU, which may be mounted: detach it first (losetup -d)" \
        $P plan "$DU"
check_eq "file attached to a loop device: byte-identical" "$before" "$(fingerprint "$DU")"
check_eq "show --json names the loop device" "[\"$LU\"] false" \
        "$($P show --json "$DU" | jq -c .loop_devices) $($P show --json "$DU" | jq -c .read_only)"
# The same inode under another name: the check goes by the inode, not the path.
ln "$DU" "$T_DIR/inuse-link.img"
check_fails "a hard link to an attached file is refused too" $P apply --wipe "$T_DIR/inuse-link.img"
rm -f "$T_DIR/inuse-link.img"
# A second loop device on the same file: writing through it would write
# under the first one.
LU2=$(loop_attach "$DU")
refused "loop device $LU2 whose file is also on $LU" \
        "xenhost-partition: the file behind $LU2 is also attached to loop device $LU, which may be mounted: detach it first" \
        $P apply --wipe "$LU2"
refused "file attached twice" \
        "xenhost-partition: $DU is attached to loop devices $LU, $LU2, which may be mounted: detach them first (losetup -d)" \
        $P apply --wipe "$DU"
losetup -d "$LU2"
check_eq "loop devices of the same file: byte-identical" "$before" "$(fingerprint "$DU")"
# Mounted, as in the report (in a mount namespace of its own, so that the
# mount is nobody else's business).
check "file attached and mounted: apply --wipe refused, the mounted file system intact" \
        unshare -m --propagation private bash -c '
                mkdir -p "$1/mnt" && mount "$2" "$1/mnt" && echo data >"$1/mnt/file" && sync || exit 2
                "$3" apply --wipe "$4" 2>"$1/err" && rc=0 || rc=$?
                umount "$1/mnt"
                [ "$rc" -eq 1 ] && grep -q "is attached to loop device $2" "$1/err"' _ "$T_DIR" "$LU" "$P" "$DU"
check_eq "...and what was written through the mount is there" "data" \
        "$(debugfs -R 'cat /file' "$DU" 2>/dev/null)"
losetup -d "$LU"
# Detached, the same file is laid out: the partitioner's own loop device
# does not count against it, and is gone afterwards.
check "detached, the file is laid out with --wipe" $P apply --wipe "$DU"
check_eq "...as a GPT" "gpt" "$(blkid -p -o value -s PTTYPE "$DU")"
check_eq "...and no loop device is left on it" "" "$(losetup -j "$DU")"

# A read-only loop device (losetup -r): refused before the plan and before
# any signature is wiped.
mkfs.ext4 -q -F "$DU"
before=$(fingerprint "$DU")
LR=$(loop_attach -r "$DU")
refused "read-only loop device $LR: apply --wipe" \
        "xenhost-partition: $LR is a read-only device: nothing can be written to it" \
        $P apply --wipe "$LR"
refused "read-only loop device $LR: plan" \
        "xenhost-partition: $LR is a read-only device: nothing can be written to it" \
        $P plan "$LR"
check_eq "show --json says read-only" "true" "$($P show --json "$LR" | jq -c .read_only)"
losetup -d "$LR"
check_eq "read-only loop device: byte-identical" "$before" "$(fingerprint "$DU")"
check_eq "...and still ext4" "ext4" "$(blkid -p -o value -s TYPE "$DU")"
# An image file that cannot be opened for writing (a read-only mount of
# its directory, in a mount namespace of its own).
mkdir -p "$T_DIR/ro"
mv "$DU" "$T_DIR/ro/"
DU=$T_DIR/ro/inuse.img
unshare -m --propagation private bash -c 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" || exit 2
        "$2" apply --wipe "$3" >"$4/out" 2>"$4/err"' _ "$T_DIR/ro" "$P" "$DU" "$T_DIR"
check_eq "read-only image file: refused with one line" \
        "xenhost-partition: $DU cannot be opened for writing (Read-only file system): nothing can be written to it" \
        "$(cat "$T_DIR/err")"
check_eq "read-only image file: no plan is printed" "" "$(cat "$T_DIR/out")"
check_eq "read-only image file: byte-identical" "$before" "$(fingerprint "$DU")"
rm -f "$DU"

# --- 4096-byte logical sectors on a loop device ------------------------
D4K=$T_DIR/d4k.img
truncate -s 20G "$D4K"
L4K=$(loop_attach --sector-size 4096 "$D4K")
$P plan --json "$L4K" >"$T_DIR/p4k.json"
check_eq "4K loop: plan sees 4096-byte sectors, SR starts 1 MiB aligned" "4096 0" \
        "$(jq -r '"\(.sector_size) \(.partitions[-1].start_bytes % 1048576)"' "$T_DIR/p4k.json")"
check "4K loop: apply" $P apply "$L4K" --plan "$T_DIR/p4k.json"
check_eq "4K loop: sfdisk sector size" "4096" "$(sfdisk --json "$L4K" | jq .partitiontable.sectorsize)"
check_layout "4K loop" "$L4K" "$T_DIR/p4k.json"
check_eq "4K loop: partition nodes named ${L4K}pN" "ext4 xh-dom0-b" \
        "$(blkid -p -o export "${L4K}p4" | awk -F= '/^TYPE=/{t=$2} /^LABEL=/{l=$2} END{print t, l}')"
check_eq "4K loop: ESP FAT32" "vfat FAT32" \
        "$(blkid -p -o export "${L4K}p2" | awk -F= '/^TYPE=/{t=$2} /^VERSION=/{v=$2} END{print t, v}')"
vg=$($P show --json "$L4K" | jq -r .sr_vg)
check_eq "4K loop: vgs sees the SR volume group" "$vg" \
        "$(vgs --noheadings -o vg_name "$vg" 2>/dev/null | tr -d ' ')"
check "4K loop: show names it a xenhost disk" bash -c "$P show $L4K | grep -q 'xenhost disk, compact layout'"
for p in "${L4K}"p*; do partx -d "$p" "$L4K" 2>/dev/null; done
# The same disk as an image file, which has no sector size of its own: the
# GPT at byte 4096 says what it is; writing it as a file is refused (libparted
# would lay a 512-byte-sector table over it).
losetup -d "$L4K"
check "4K image file: show finds the GPT at byte 4096" bash -c "$P show '$D4K' | grep -q 'xenhost disk, compact layout, .*4096-byte sectors'"
check_eq "4K image file: show --json says 4096-byte sectors and the SR" "4096 true $vg" \
        "$($P show --json "$D4K" | jq -r '"\(.sector_size) \(.xenhost) \(.sr_vg)"')"
before=$(fingerprint "$D4K")
$P apply "$D4K" --wipe >"$T_DIR/out" 2>&1
check_eq "4K image file: apply is refused" 1 $?
check "... saying to attach it with its sector size" grep -q "attach it with 'losetup -b 4096'" "$T_DIR/out"
check_eq "... and the file is byte-identical" "$before" "$(fingerprint "$D4K")"

t_finish
