#!/bin/bash
# GRUB itself runs the boot counting of the grub.cfg that xenhost renders,
# against a grubenv that xenhost writes, on a FAT ESP in a GPT disk image,
# under SeaBIOS and under OVMF (QEMU, software emulation, no network).
# The slot entries are replaced by ones that print which slot "booted" and
# power off, like a boot that never reaches the health check: slot b must be
# booted exactly 3 times, then GRUB must fall back to slot a by itself and
# leave xh_try_failed=b. grubenv is read back after every boot with mtools
# and grub-editenv (GRUB's own tool) and xenhost-boot. A slot marked good in
# the middle of its tries must then boot with no more counting.
. "$(dirname "$0")/../lib.sh"

B=xenhost-boot
OVMF_CODE=/usr/share/OVMF/OVMF_CODE.fd OVMF_VARS=/usr/share/OVMF/OVMF_VARS.fd
for t in qemu-system-x86_64 grub-mkrescue grub-editenv mcopy mkfs.fat sfdisk xorriso unshare; do
        command -v "$t" >/dev/null || { not_ok "$t is needed"; t_finish; exit 1; }
done
[ -d /usr/lib/grub/i386-pc ] && [ -d /usr/lib/grub/x86_64-efi ] && [ -f "$OVMF_CODE" ] ||
        { not_ok "GRUB for i386-pc and x86_64-efi and OVMF are needed"; t_finish; exit 1; }
cd "$T_DIR" || exit 1

# The real grub.cfg of a two-slot host installed on the serial console.
$B grub-cfg --serial --default a a:1111-aaaa:1.0.0:xen-4.17-amd64.gz:vmlinuz-a:initrd-a \
        b:2222-bbbb:1.1.0:xen-4.17-amd64.gz:vmlinuz-b:initrd-b >real.cfg
check "xenhost-boot renders grub.cfg" test -s real.cfg
# Same file with each entry's body replaced and no menu wait.
awk '/^menuentry / { match($0, /--id slot-[ab]/); id = substr($0, RSTART + 5, 6); print
                     print "  echo \"XH-BOOTED " id "\""; print "  halt"; skip = 1; next }
     skip && /^}/ { skip = 0; print; next }
     skip { next }
     { print }' real.cfg | sed 's/^set timeout=1$/set timeout=0/' >test.cfg
check_eq "only the entry bodies and the timeout differ from the real grub.cfg" \
        "$(sed -n '/^menuentry/q;/^set timeout=/d;p' real.cfg | sha256sum)" \
        "$(sed -n '/^menuentry/q;/^set timeout=/d;p' test.cfg | sha256sum)"

# A boot medium with GRUB for both firmwares that finds the ESP by its label
# and reads its grub.cfg with $prefix there, as an installed GRUB does.
# Modules come from the medium, so load them before $prefix moves.
mkdir -p iso/boot/grub
{
        for m in part_gpt fat ext2 multiboot2 loadenv test echo halt search search_label search_fs_uuid serial \
                terminal configfile; do echo "insmod $m"; done
        cat <<'EOF'
serial --unit=0 --speed=115200
terminal_input serial
terminal_output serial
search --no-floppy --label XH-ESP --set=root
set prefix=($root)/grub
configfile $prefix/grub.cfg
EOF
} >iso/boot/grub/grub.cfg
check "grub-mkrescue makes a BIOS and UEFI boot medium" grub-mkrescue -o boot.iso iso

# An ESP as a host has it: FAT32 in GPT partition 1 at 1 MiB.
make_esp() { # grubenv-file
        rm -f esp.img && truncate -s 64M esp.img &&
                printf 'label: gpt\nstart=2048, size=126976, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=xh-esp\n' |
                sfdisk -q esp.img &&
                mkfs.fat -F 32 -n XH-ESP --offset 2048 esp.img 63488 >/dev/null 2>&1 &&
                mmd -i esp.img@@1M ::grub && mcopy -i esp.img@@1M test.cfg ::grub/grub.cfg &&
                mcopy -i esp.img@@1M "$1" ::grub/grubenv
}
# Boots once; echoes the slot GRUB booted ("none" when it booted nothing).
boot() { # bios|uefi
        local fw=()
        rm -f serial.log
        if [ "$1" = uefi ]; then
                fw=(-drive "if=pflash,format=raw,unit=0,readonly=on,file=$OVMF_CODE"
                        -drive "if=pflash,format=raw,unit=1,file=$T_DIR/vars.fd")
        fi
        timeout 60 unshare --net qemu-system-x86_64 -accel tcg -machine q35 -cpu qemu64 -m 256 -display none \
                -monitor none -serial file:serial.log -no-reboot -boot d "${fw[@]}" -cdrom boot.iso \
                -drive if=virtio,format=raw,file=esp.img,cache=unsafe >qemu.log 2>&1
        grep -ao 'XH-BOOTED slot-[ab]' serial.log | head -1 | sed 's/XH-BOOTED slot-//' | grep . || echo none
}
# grubenv from the ESP image, as GRUB's own tool lists it (one line).
env_list() {
        rm -f env.out && mcopy -n -i esp.img@@1M ::grub/grubenv env.out && grub-editenv env.out list | tr '\n' ' '
}

for fw in bios uefi; do
        cp "$OVMF_VARS" vars.fd
        rm -rf esp && mkdir -p esp/grub
        $B set-default esp a && $B set-default esp b 3
        check "$fw: ESP image with grub.cfg and a grubenv trying slot b" make_esp esp/grub/grubenv
        start=$SECONDS
        for n in 1 2 3; do
                check_eq "$fw: boot $n tries slot b" b "$(boot $fw)"
                check_eq "$fw: boot $n: GRUB counted the try in grubenv before booting" \
                        "xh_default=a xh_try=b xh_tries=$((3 - n)) " "$(env_list)"
        done
        check_eq "$fw: boot 4 falls back to slot a" a "$(boot $fw)"
        check "$fw: GRUB said why on the console" grep -aq "slot b failed all its tries; booting slot-a" serial.log
        check_eq "$fw: grubenv after the fallback says the try of b failed" "xh_default=a xh_try_failed=b " "$(env_list)"
        check_eq "$fw: GRUB's save_env kept grubenv at 1024 bytes" 1024 "$(stat -c %s env.out)"
        mkdir -p back/grub && cp env.out back/grub/grubenv
        check_eq "$fw: xenhost-boot reads GRUB's grubenv" "a||0|b" \
                "$($B show back | sed 's/^[a-z_]*=//' | paste -sd'|')"
        check_eq "$fw: boot 5 stays on slot a" a "$(boot $fw)"
        check_eq "$fw: and writes nothing" "xh_default=a xh_try_failed=b " "$(env_list)"
        echo "# $fw: 5 boots in $((SECONDS - start)) s"
done

# Marked good in the middle of its tries: no more counting, b is the default.
cp "$OVMF_VARS" vars.fd
rm -rf esp && mkdir -p esp/grub
$B set-default esp a && $B set-default esp b 3
make_esp esp/grub/grubenv
check_eq "mark-good: boot 1 tries slot b" b "$(boot bios)"
mcopy -n -i esp.img@@1M ::grub/grubenv esp/grub/grubenv
check "mark-good: xenhost-boot marks b good on the ESP's grubenv" $B mark-good esp b
mcopy -o -i esp.img@@1M esp/grub/grubenv ::grub/grubenv
for n in 2 3 4 5; do
        check_eq "mark-good: boot $n boots slot b" b "$(boot uefi)"
done
check_eq "mark-good: grubenv is only the default, untouched by GRUB" "xh_default=b " "$(env_list)"
check_fails "mark-good: nothing counted on the console" grep -aq "xenhost: trying" serial.log

t_finish
