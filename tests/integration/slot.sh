#!/bin/bash
# The slot writer (slot_write_image through `xenhost-build write-slot`) on
# sparse files and loop devices, checked with independent tools: e2fsck -fn,
# blkid -p, dumpe2fs -h, debugfs. Both image formats: ext4.zst and the 0.1.0
# squashfs. Also: xenhost-build takes --version without crashing.
. "$(dirname "$0")/../lib.sh"

XB=xenhost-build
[ "$(id -u)" -eq 0 ] || { not_ok "integration tests need root (loop devices)"; t_finish; exit 1; }

# A small tree with a file whose bytes we look for later, a hard link, a
# symlink, a deep directory.
tree=$T_DIR/tree
mkdir -p "$tree/etc" "$tree/usr/lib/deep/er" "$tree/var/log"
head -c 3000000 /dev/urandom >"$tree/usr/lib/blob"
echo "PRODUCT=xenhost" >"$tree/etc/xenhost-release"
ln "$tree/usr/lib/blob" "$tree/usr/lib/blob.link"
ln -s ../etc/xenhost-release "$tree/usr/release"
blob_sum=$(sha256sum <"$tree/usr/lib/blob")

# manifest IMAGE FORMAT OUT: a manifest for IMAGE (FORMAT empty: none, as 0.1.0).
manifest() {
        {
                echo "PRODUCT=xenhost"; echo "VERSION=9.0.0"; echo "BUILD=test"
                echo "IMAGE_SHA256=$(sha256sum "$1" | cut -d' ' -f1)"; echo "IMAGE_SIZE=$(stat -c %s "$1")"
                [ -z "$2" ] || echo "IMAGE_FORMAT=$2"
                echo "INSTALLED_SIZE=8388608"; echo "XEN_VERSION=4.17"; echo "KERNEL_VERSION=6.1"
                echo "SOURCE_DATE_EPOCH=1700000000"; echo "MIN_UPGRADE_FROM=0.1.0"
        } >"$3"
}

# The ext4.zst image: 32 MiB of ext4 with a known UUID, in one zstd frame.
raw=$T_DIR/image.ext4
img=$T_DIR/image.img
truncate -s 32M "$raw"
E2FSPROGS_FAKE_TIME=1700000000 mke2fs -q -t ext4 -b 4096 -L xh-dom0 -U 11111111-2222-4333-8444-555555555555 \
        -O metadata_csum_seed -E lazy_itable_init=0,lazy_journal_init=0 -d "$tree" "$raw"
zstd -q -T0 -3 "$raw" -o "$img"
manifest "$img" ext4.zst "$T_DIR/image.manifest"

# slot_check DESC DEVICE BYTES: what an operator checks on a written slot.
slot_check() {
        local desc=$1 dev=$2 bytes=$3 uuid
        check "$desc: e2fsck -fn finds a clean file system" e2fsck -fn "$dev"
        check_eq "$desc: ext4 labelled xh-dom0-a" "ext4 xh-dom0-a" \
                "$(blkid -p -o export "$dev" | awk -F= '/^TYPE=/{t=$2} /^LABEL=/{l=$2} END{print t, l}')"
        uuid=$(blkid -p -s UUID -o value "$dev")
        check_eq "$desc: write-slot reports the UUID blkid reads" "$uuid" \
                "$(sed -n 's/.*file system UUID \(.*\)$/\1/p' "$T_DIR/write.out")"
        check "$desc: the UUID is a new one, not the image's" test "$uuid" != 11111111-2222-4333-8444-555555555555 \
                -a -n "$uuid"
        check_eq "$desc: the file system fills the device" "$((bytes / 4096))" \
                "$(dumpe2fs -h "$dev" 2>/dev/null | sed -n 's/^Block count: *//p')"
        check_eq "$desc: a file's bytes are there" "$blob_sum" \
                "$(debugfs -R 'cat /usr/lib/blob' "$dev" 2>/dev/null | sha256sum)"
        check_eq "$desc: the hard link is one inode" "2" \
                "$(debugfs -R 'stat /usr/lib/blob' "$dev" 2>/dev/null | sed -n 's/.*Links: \([0-9]*\).*/\1/p')"
        check_eq "$desc: the symlink is there" "../etc/xenhost-release" \
                "$(debugfs -R 'stat /usr/release' "$dev" 2>/dev/null | sed -n 's/^Fast link dest: "\(.*\)"$/\1/p')"
}

write_slot() { # IMAGE MANIFEST DEVICE
        "$XB" write-slot "$1" "$2" "$3" --label xh-dom0-a >"$T_DIR/write.out" 2>&1
}

# 1. ext4.zst onto a sparse file four times as big.
dev=$T_DIR/slot-file
truncate -s 128M "$dev"
check "ext4.zst onto a sparse file" write_slot "$img" "$T_DIR/image.manifest" "$dev"
slot_check "file" "$dev" $((128 * 1024 * 1024))

# 2. ext4.zst onto a loop device (O_DIRECT, BLKGETSIZE64), with old data on it.
back=$T_DIR/slot-loop
head -c 1M /dev/urandom >"$T_DIR/junk"
truncate -s 200M "$back"
dd if="$T_DIR/junk" of="$back" bs=1M seek=1 conv=notrunc status=none
loop=$(loop_attach "$back")
check "ext4.zst onto a loop device" write_slot "$img" "$T_DIR/image.manifest" "$loop"
slot_check "loop" "$loop" $((200 * 1024 * 1024))
check_eq "loop: the image's bytes replaced what was on the device" \
        "$(head -c 33554432 "$raw" | tail -c +1048577 | head -c 1048576 | sha256sum)" \
        "$(dd if="$loop" bs=1M skip=1 count=1 status=none | sha256sum)"

# 3. Written twice: the second write gives a working slot again, new UUID.
first=$(blkid -p -s UUID -o value "$loop")
check "ext4.zst written again onto the same slot" write_slot "$img" "$T_DIR/image.manifest" "$loop"
check "a second write gives a new UUID" test "$(blkid -p -s UUID -o value "$loop")" != "$first"
check "the slot is clean after the second write" e2fsck -fn "$loop"

# 4. Too small a device: refused before anything is written.
small=$T_DIR/small
head -c 16M /dev/urandom >"$small"
before=$(sha256sum <"$small")
check_fails "a device smaller than the image is refused" write_slot "$img" "$T_DIR/image.manifest" "$small"
check "the reason says the device is too small" grep -q 'too small' "$T_DIR/write.out"
check_eq "the small device is unchanged" "$before" "$(sha256sum <"$small")"

# 5. A truncated and a corrupt image fail with a reason (the manifest is
# made to match, as if the damage came before the manifest was written).
head -c $(($(stat -c %s "$img") / 2)) "$img" >"$T_DIR/short.img"
manifest "$T_DIR/short.img" ext4.zst "$T_DIR/short.manifest"
check_fails "a truncated image fails" write_slot "$T_DIR/short.img" "$T_DIR/short.manifest" "$dev"
check "the reason says truncated" grep -q 'truncated' "$T_DIR/write.out"
cp "$img" "$T_DIR/bad.img"
printf '\x5a\x5a\x5a\x5a' | dd of="$T_DIR/bad.img" bs=1 seek=$(($(stat -c %s "$img") / 2)) conv=notrunc status=none
manifest "$T_DIR/bad.img" ext4.zst "$T_DIR/bad.manifest"
check_fails "a corrupt image fails" write_slot "$T_DIR/bad.img" "$T_DIR/bad.manifest" "$dev"
check "the reason says corrupt" grep -q 'corrupt' "$T_DIR/write.out"
check_fails "an image that does not match its manifest is refused" \
        write_slot "$T_DIR/bad.img" "$T_DIR/image.manifest" "$dev"
manifest "$T_DIR/junk" ext4.zst "$T_DIR/junk.manifest"
check_fails "a file that is not zstd fails" write_slot "$T_DIR/junk" "$T_DIR/junk.manifest" "$dev"
check "the reason says not a zstd image" grep -q 'not a zstd image' "$T_DIR/write.out"

# 6. The 0.1.0 format: a squashfs and a manifest without IMAGE_FORMAT.
mksquashfs "$tree" "$T_DIR/old.img" -comp zstd -noappend -no-progress -quiet >/dev/null
manifest "$T_DIR/old.img" "" "$T_DIR/old.manifest"
back2=$T_DIR/slot-old
truncate -s 64M "$back2"
loop2=$(loop_attach "$back2")
check "squashfs (0.1.0) onto a loop device" write_slot "$T_DIR/old.img" "$T_DIR/old.manifest" "$loop2"
check "squashfs: e2fsck -fn finds a clean file system" e2fsck -fn "$loop2"
check_eq "squashfs: ext4 labelled xh-dom0-a" "ext4 xh-dom0-a" \
        "$(blkid -p -o export "$loop2" | awk -F= '/^TYPE=/{t=$2} /^LABEL=/{l=$2} END{print t, l}')"
check_eq "squashfs: a file's bytes are there" "$blob_sum" \
        "$(debugfs -R 'cat /usr/lib/blob' "$loop2" 2>/dev/null | sha256sum)"
check_eq "squashfs: write-slot reports the UUID blkid reads" "$(blkid -p -s UUID -o value "$loop2")" \
        "$(sed -n 's/.*file system UUID \(.*\)$/\1/p' "$T_DIR/write.out")"
check "squashfs: no mount is left behind" bash -c "! grep -q xh-slot- /proc/mounts"

# 7. An unknown IMAGE_FORMAT: one clear line.
sed 's/^IMAGE_FORMAT=.*/IMAGE_FORMAT=btrfs.xz/' "$T_DIR/image.manifest" >"$T_DIR/unknown.manifest"
check_fails "an unknown IMAGE_FORMAT is refused" write_slot "$img" "$T_DIR/unknown.manifest" "$dev"
check "the reason names the format" grep -q "unknown IMAGE_FORMAT 'btrfs.xz'" "$T_DIR/write.out"

# xenhost-build with --version gets through its setup (it once freed a
# string twice there) and fails only on the unknown stage.
XENHOST_CACHE=$T_DIR/cache "$XB" no-such-stage --version 9.9.9 --out "$T_DIR/out" >"$T_DIR/version.out" 2>&1
check_eq "xenhost-build --version: a clean exit 1, no crash" 1 $?
check "xenhost-build --version: it says the stage is unknown" grep -q "Unknown stage 'no-such-stage'" "$T_DIR/version.out"

t_finish
