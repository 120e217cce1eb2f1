#!/bin/bash
# Boot the install ISO in QEMU (software emulation) with SeaBIOS and with
# OVMF, and see the installer start on the serial console and find its media.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../media-lib.sh"

check "the ISO is built" media_ensure_iso
for fw in bios uefi; do
        log=$T_DIR/$fw.serial
        pid=$(qemu_boot "iso-$fw" "$fw" "$log" -cdrom "$XB_ISO" -boot d)
        if t=$(wait_serial "$log" "xenhost installer $XB_VERSION .* started" 300); then
                ok "$fw: the installer starts on the serial console (${t} s after power-on)"
        else
                not_ok "$fw: the installer starts on the serial console"
                tail -c 3000 "$log" | sed 's/^/#   /'
        fi
        if t=$(wait_serial "$log" "install media: /dev/sr0 (xenhost-$XB_VERSION.manifest)" 60); then
                ok "$fw: the installer finds the install media"
        else
                not_ok "$fw: the installer finds the install media"
                tail -c 2000 "$log" | sed 's/^/#   /'
        fi
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
done
check "UEFI run booted through OVMF" grep -aq 'BdsDxe' "$T_DIR/uefi.serial"
t_finish
