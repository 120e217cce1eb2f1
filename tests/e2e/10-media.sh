#!/bin/bash
# The build chain: dom0 tree, host image, installer initrd, ISO, PXE tree.
# The image is read back and verified; tampering is caught; a second build
# of the same recipe gives the same bytes, and so do a second ISO and PXE
# tree; the ISO has both boot images.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../media-lib.sh"

mkdir -p "$XB_OUT"
t0=$SECONDS
check "xenhost-build all (image, initrd, iso, pxe)" "$XB" all --out "$XB_OUT"
echo "# build all: $((SECONDS - t0)) s"
grep '==>' "$XB_OUT/build.log" >/dev/null 2>&1 || true

# Read the image back: an ext4 file system image in one zstd frame.
check_eq "manifest says the image is ext4.zst" "ext4.zst" "$(sed -n 's/^IMAGE_FORMAT=//p' "$XB_MAN")"
check "the image decompresses (zstd checksum)" bash -c "zstd -dc '$XB_IMG' >'$T_DIR/image.ext4'"
check "the image's ext4 is clean (e2fsck -fn)" e2fsck -fn "$T_DIR/image.ext4"
check "the image's ext4 has metadata_csum_seed (instant new UUID)" \
        bash -c "dumpe2fs -h '$T_DIR/image.ext4' 2>/dev/null | grep -q 'features:.*metadata_csum_seed'"
mkdir -p "$T_DIR/mnt"
mount -o ro,loop -t ext4 "$T_DIR/image.ext4" "$T_DIR/mnt"
(cd "$T_DIR/mnt" && find . | sed 's|^\.||') >"$T_DIR/list"
for f in '/boot/xen-4.17-amd64.gz' '/boot/vmlinuz-' '/boot/initrd.img-' '/usr/sbin/xl' \
        '/usr/lib/xen-4.17/bin/xenconsoled' 'xenstored' '/usr/lib/systemd/system/xenhost-firstboot.service' \
        '/usr/sbin/xenhost-partition' '/usr/sbin/sshd' '/usr/sbin/lvm' '/etc/xenhost-release' \
        '/usr/lib/systemd/system/xen.service\|/etc/init.d/xen'; do
        check "image holds $f" grep -q -- "$f" "$T_DIR/list"
done
check_fails "image holds no SSH host key" grep -q 'etc/ssh/ssh_host_.*_key$' "$T_DIR/list"
# The dom0 initrd (hooks/30-initrd.sh): our init, busybox, and the storage
# drivers of generic hardware (virtio, AHCI, NVMe, SCSI disks), not dracut's.
initrd_list=$(zstd -dc "$T_DIR/mnt$(grep -o '/boot/initrd.img-[^ ]*' "$T_DIR/list" | head -1)" | cpio -it 2>/dev/null)
for f in '^init$' '^bin/busybox$' '/virtio_blk.ko$' '/ahci.ko$' '/nvme.ko$' '/sd_mod.ko$' '/ext4.ko$' '/modules.alias$'; do
        check "dom0 initrd holds $f" grep -q -- "$f" <<<"$initrd_list"
done
check_fails "dom0 initrd is not dracut's" grep -q 'dracut' <<<"$initrd_list"
umount "$T_DIR/mnt"
rm -f "$T_DIR/image.ext4"

# The manifest: every field of DESIGN.md section 3, and it matches.
for k in PRODUCT VERSION BUILD IMAGE_SHA256 IMAGE_SIZE INSTALLED_SIZE XEN_VERSION KERNEL_VERSION \
        SOURCE_DATE_EPOCH MIN_UPGRADE_FROM; do
        check "manifest has $k" grep -q "^$k=." "$XB_MAN"
done
check_eq "manifest SHA-256 is the image's" "$(sha256sum "$XB_IMG" | cut -d' ' -f1)" \
        "$(sed -n 's/^IMAGE_SHA256=//p' "$XB_MAN")"
check "xenhost-build verify accepts the image" "$XB" verify "$XB_IMG" "$XB_MAN"
echo "# image $(stat -c %s "$XB_IMG") bytes, installed $(sed -n 's/^INSTALLED_SIZE=//p' "$XB_MAN") bytes"

# One byte changed anywhere: refused.
cp "$XB_IMG" "$T_DIR/tampered.img"
printf '\x5a' | dd of="$T_DIR/tampered.img" bs=1 seek=$(( $(stat -c %s "$XB_IMG") / 2 )) conv=notrunc status=none
check_fails "a tampered image is refused" "$XB" verify "$T_DIR/tampered.img" "$XB_MAN"
rm -f "$T_DIR/tampered.img"
sed 's/^VERSION=.*/VERSION=9.9.9/' "$XB_MAN" >"$T_DIR/m2"
check "an edited manifest still matches its image (unsigned)" "$XB" verify "$XB_IMG" "$T_DIR/m2"

# Signed: a test key signs, gpgv checks; an edited manifest then fails.
export GNUPGHOME=$T_DIR/gnupg
mkdir -m 700 "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-gen-key 'xenhost test <test@xenhost.invalid>' ed25519 sign never 2>/dev/null
gpg --batch --export >"$T_DIR/keyring.gpg"
sig_out=$T_DIR/signed
mkdir -p "$sig_out"
# --version given explicitly (the same version, so the bytes can be compared).
check "signed image build" "$XB" image --out "$sig_out" --sign-key test@xenhost.invalid --version "$XB_VERSION"
check "signed image verifies with the keyring" "$XB" verify "$sig_out/xenhost-$XB_VERSION.img" \
        "$sig_out/xenhost-$XB_VERSION.manifest" --keyring "$T_DIR/keyring.gpg"
# The public keyring the media carry is the signer's key, exported by the
# build, and it alone verifies the manifest (no ~/.gnupg consulted).
check "the signed build exports the signer's public keyring" test -s "$sig_out/xenhost-$XB_VERSION.keyring.gpg"
check "the exported keyring verifies the manifest" env HOME=/nonexistent GNUPGHOME=/nonexistent "$XB" verify \
        "$sig_out/xenhost-$XB_VERSION.img" "$sig_out/xenhost-$XB_VERSION.manifest" \
        --keyring "$sig_out/xenhost-$XB_VERSION.keyring.gpg"
sed -i 's/^VERSION=.*/VERSION=9.9.9/' "$sig_out/xenhost-$XB_VERSION.manifest"
check_fails "an edited signed manifest is refused" "$XB" verify "$sig_out/xenhost-$XB_VERSION.img" \
        "$sig_out/xenhost-$XB_VERSION.manifest" --keyring "$T_DIR/keyring.gpg"

# Reproducible: the signed build above made the image a second time from the
# same recipe, in another directory.
check_eq "two builds give the same image" "$(sha256sum <"$XB_IMG")" "$(sha256sum <"$sig_out/xenhost-$XB_VERSION.img")"
cp "$sig_out/xenhost-$XB_VERSION.img" /dev/null
check_eq "two builds give the same manifest" "$(cat "$XB_MAN")" \
        "$(sed 's/^VERSION=.*/VERSION='"$XB_VERSION"'/' "$sig_out/xenhost-$XB_VERSION.manifest")"
cp "$sig_out/xenhost-$XB_VERSION.keyring.gpg" "$T_DIR/release.keyring.gpg"
rm -rf "$sig_out"

# The ISO: both El Torito boot images, and what it carries.
xorriso -indev "$XB_ISO" -report_el_torito plain >"$T_DIR/eltorito" 2>/dev/null
check "ISO has a BIOS El Torito image" grep -q 'El Torito boot img :   1  BIOS' "$T_DIR/eltorito"
check "ISO has a UEFI El Torito image" grep -q 'El Torito boot img :   2  UEFI' "$T_DIR/eltorito"
xorriso -indev "$XB_ISO" -find / -type f 2>/dev/null >"$T_DIR/isofiles"
for f in /boot/vmlinuz /boot/initrd.img /boot/grub/grub.cfg "/xenhost/xenhost-$XB_VERSION.img" \
        "/xenhost/xenhost-$XB_VERSION.manifest" "/xenhost/xenhost-$XB_VERSION.packages"; do
        check "ISO carries $f" grep -q "'$f'" "$T_DIR/isofiles"
done
# An unsigned build carries no keyring: the installer then asks for none.
check_fails "an unsigned ISO carries no keyring" grep -q "'/xenhost/keyring.gpg'" "$T_DIR/isofiles"
check "ISO is hybrid (MBR for USB sticks)" bash -c "file '$XB_ISO' | grep -q 'DOS/MBR boot sector'"
echo "# ISO $(stat -c %s "$XB_ISO") bytes"

# The PXE tree.
for f in xenhost/vmlinuz xenhost/initrd.img "xenhost/xenhost-$XB_VERSION.img" "xenhost/xenhost-$XB_VERSION.packages" \
        boot/grub/grub.cfg \
        boot/grub/i386-pc/core.0 boot/grub/x86_64-efi/core.efi pxelinux.cfg/default; do
        check "PXE tree has $f" test -s "$XB_OUT/pxe/$f"
done

# The package list beside the manifest: what a rebuild pins.
XB_PKGS=$XB_OUT/xenhost-$XB_VERSION.packages
check "the package list is recorded beside the manifest" test -s "$XB_PKGS"
check "the package list is sorted" env LC_ALL=C sort -c "$XB_PKGS"
check_eq "the package list has the manifest's Xen version" "$(sed -n 's/^XEN_VERSION=//p' "$XB_MAN")" \
        "$(awk -F'\t' '$1 == "xen-hypervisor-4.17-amd64" { print $2 }' "$XB_PKGS")"

# Reproducible media: the ISO and the PXE tree a second time, in another
# directory, from the same recipe and SOURCE_DATE_EPOCH. The dom0 tree and
# the host image are linked in from the first build (two images were
# compared above); the installer initrd (dracut, with a cache of its own),
# the GRUB images and the ISO are made afresh.
again=${XB_OUT%/}-again
media_again_clean() { # a build that was killed may have left its chroot mounted
        umount -R "$again/initrd-work/merged" 2>/dev/null
        rm -rf --one-file-system "$again"
}
media_again_clean
mkdir -p "$again/cache"
for f in rootfs rootfs.key "xenhost-$XB_VERSION.img" "xenhost-$XB_VERSION.img.key" "xenhost-$XB_VERSION.manifest"; do
        cp -al "$XB_OUT/$f" "$again/" 2>/dev/null || cp -a --reflink=auto "$XB_OUT/$f" "$again/"
done
t0=$SECONDS
check "a second build of the ISO and PXE tree (another directory, same recipe)" \
        env XENHOST_CACHE="$again/cache" "$XB" all --out "$again"
echo "# second build of the initrd, ISO and PXE tree: $((SECONDS - t0)) s"
check "the second build reused the dom0 tree and the image" bash -c \
        "grep -q 'using the dom0 tree as it is' '$again/build.log' && grep -q 'using the host image as it is' '$again/build.log'"

# explain_diff A B: what differs, for the log: diffoscope's first lines and
# its list of differences where it is installed, else the ISOs' listings.
explain_diff() {
        if command -v diffoscope >/dev/null; then
                timeout 300 diffoscope --no-progress --text "$T_DIR/diffoscope.txt" "$1" "$2" >/dev/null 2>&1
                head -30 "$T_DIR/diffoscope.txt" | sed 's/^/#   /'
                echo "#   ... in all, what differs:"
                grep -E '^(│ )*├── ' "$T_DIR/diffoscope.txt" | head -20 | sed 's/^/#   /'
        elif [ "${1%.iso}" != "$1" ]; then
                diff <(xorriso -indev "$1" -find / -exec lsdl 2>/dev/null) \
                        <(xorriso -indev "$2" -find / -exec lsdl 2>/dev/null) | head -40 | sed 's/^/#   /'
                echo "#   $(cmp -l "$1" "$2" 2>/dev/null | wc -l) bytes differ"
        else
                echo "#   $(cmp -l "$1" "$2" 2>/dev/null | wc -l) bytes differ"
        fi
}
iso2=$again/xenhost-$XB_VERSION.iso
if cmp "$XB_ISO" "$iso2" >"$T_DIR/cmp.out" 2>&1; then
        ok "two builds give the same ISO (cmp)"
else
        not_ok "two builds give the same ISO (cmp)"
        sed 's/^/#   /' "$T_DIR/cmp.out"
        explain_diff "$XB_ISO" "$iso2"
fi
check "two builds give the same PXE tree (diff -r)" diff -r "$XB_OUT/pxe" "$again/pxe"
pxe_differ=$(cd "$XB_OUT/pxe" && find . -type f | sort | while read -r f; do
        cmp -s "$f" "$again/pxe/$f" || echo "$f"
done)
check_eq "every file of the two PXE trees is the same (cmp)" "" "$pxe_differ"
if diff <(cd "$XB_OUT/pxe" && find . -printf '%p %M %T@ %l\n' | sort) \
        <(cd "$again/pxe" && find . -printf '%p %M %T@ %l\n' | sort) >"$T_DIR/pxe-meta.diff"; then
        ok "the two PXE trees have the same names, modes and dates"
else
        not_ok "the two PXE trees have the same names, modes and dates"
        echo "#   $(grep -c '^<' "$T_DIR/pxe-meta.diff") entries differ, the first (name, mode, date):"
        grep '^[<>]' "$T_DIR/pxe-meta.diff" | head -12 | sed 's/^/#   /'
fi
for f in $pxe_differ; do
        echo "# differs: pxe/${f#./}"
        explain_diff "$XB_OUT/pxe/$f" "$again/pxe/$f"
done
media_again_clean

# Unchanged recipe: the cached stages are not rebuilt.
t0=$SECONDS
"$XB" initrd --out "$XB_OUT" >"$T_DIR/cached.log" 2>&1
check "an unchanged recipe reuses the cached tree and initrd" \
        bash -c "grep -q 'using the dom0 tree as it is' '$T_DIR/cached.log' && grep -q 'using the cached initrd' '$T_DIR/cached.log'"
echo "# cached initrd stage: $((SECONDS - t0)) s"

# A signed build's installer carries the release keyring (installs without
# media, PXE, check the image's signature with it): a cpio archive of its
# own, appended to dracut's.
mkdir -p "$sig_out" && cp "$T_DIR/release.keyring.gpg" "$sig_out/xenhost-$XB_VERSION.keyring.gpg"
check "a signed build's installer initrd" "$XB" initrd --out "$sig_out" --version "$XB_VERSION"
check "... carries the release keyring at /usr/share/xenhost/keyring.gpg" python3 -c '
import sys
initrd, keyring = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
name = initrd.rfind(b"usr/share/xenhost/keyring.gpg\0")
sys.exit(0 if name > 0 and keyring in initrd[name:] else 1)' "$sig_out/installer/initrd.img" "$sig_out/xenhost-$XB_VERSION.keyring.gpg"
check_fails "... and an unsigned build's does not" grep -q "usr/share/xenhost/keyring.gpg" "$XB_OUT/installer/initrd.img"

# Supplemental packs on the ISO (installed by default by fresh installs).
check "a pack to carry" agent_pack "$T_DIR/acme-agent.iso"
check "xenhost-build iso --pack carries it" "$XB" iso --out "$XB_OUT" --pack "$T_DIR/acme-agent.iso" \
        --iso "$T_DIR/packed.iso"
check "... in packs/, byte for byte" bash -c "xorriso -osirrox on -indev '$T_DIR/packed.iso' \
        -extract /packs/acme-agent.iso '$T_DIR/carried.iso' >/dev/null 2>&1 && cmp '$T_DIR/acme-agent.iso' '$T_DIR/carried.iso'"
echo 'not a pack' >"$T_DIR/notes.txt"
check_fails "... and a file that is not a pack ISO is refused" "$XB" iso --out "$XB_OUT" --pack "$T_DIR/notes.txt" \
        --iso "$T_DIR/bad.iso"

t_finish
