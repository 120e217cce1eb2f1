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

t_finish
