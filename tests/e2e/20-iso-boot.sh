#!/bin/bash
# Boot the install ISO in QEMU (software emulation) with SeaBIOS and with
# OVMF, and see the installer start on the serial console, find its media
# and, with no answer file, start the interactive installer on the screen.
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
        # No answer file: the default entry starts the interactive installer
        # on the screen (its last console=).
        if wait_serial "$log" "interactive installer on /dev/console (TERM=linux)" 60 >/dev/null; then
                ok "$fw: without an answer file the interactive installer starts on the screen"
        else
                not_ok "$fw: without an answer file the interactive installer starts on the screen"
                tail -c 1000 "$log" | sed 's/^/#   /'
        fi
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
done
check "UEFI run booted through OVMF" grep -aq 'BdsDxe' "$T_DIR/uefi.serial"
t_finish
