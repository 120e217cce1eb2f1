# Shared by the media tests: where the build chain puts its results. The
# images carry the plain (not sanitizer) build of xenhost's programs.
XB_OUT=${XH_MEDIA_OUT:-$XH_TOP/build/media}
XB="$XH_TOP/build/bin/xenhost-build"
XB_VERSION=$(cat "$XH_TOP/VERSION")
XB_ISO=$XB_OUT/xenhost-$XB_VERSION.iso
XB_IMG=$XB_OUT/xenhost-$XB_VERSION.img
XB_MAN=$XB_OUT/xenhost-$XB_VERSION.manifest

# Builds the ISO (and so everything before it) unless it is there already.
media_ensure_iso() {
        [ -f "$XB_ISO" ] && return 0
        make -C "$XH_TOP" -s -j"$(nproc)" >/dev/null && "$XB" iso --out "$XB_OUT"
}

# qemu_boot NAME FIRMWARE LOG QEMU-ARGS...: starts QEMU (software emulation:
# KVM here cannot run Xen or a stock kernel) in a network namespace of its
# own with nothing but loopback; echoes the PID.
qemu_boot() {
        local name=$1 fw=$2 log=$3; shift 3
        local fwargs=()
        if [ "$fw" = uefi ]; then
                cp /usr/share/OVMF/OVMF_VARS.fd "$T_DIR/$name.vars"
                fwargs=(-drive "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE.fd"
                        -drive "if=pflash,format=raw,unit=1,file=$T_DIR/$name.vars")
        fi
        unshare --net qemu-system-x86_64 -accel tcg,thread=multi -machine q35 -cpu qemu64 -m 2048 -smp 2 \
                -display none -monitor none -serial "file:$log" -no-reboot "${fwargs[@]}" "$@" \
                >"$T_DIR/$name.qemu.log" 2>&1 &
        echo $!
}

# wait_serial LOG PATTERN TIMEOUT: seconds until PATTERN shows up, or fails.
wait_serial() {
        local log=$1 pat=$2 limit=$3 start=$SECONDS
        while [ $((SECONDS - start)) -lt "$limit" ]; do
                if grep -aq -- "$pat" "$log" 2>/dev/null; then
                        echo $((SECONDS - start))
                        return 0
                fi
                sleep 1
        done
        return 1
}

# host_root_files ROOT DISK: the files an installed host's slot a holds that
# the upgrader reads (the inventory and fstab of a host on DISK), for tests
# that make such a host on a loop device.
host_root_files() {
        local root=$1 disk=$2
        mkdir -p "$root/etc/xenhost"
        cat >"$root/etc/xenhost/inventory" <<EOI
PRODUCT_VERSION='$XB_VERSION'
BUILD_NUMBER='test'
INSTALLATION_UUID='5b0b4f2c-1111-4a4a-9a9a-0123456789ab'
CONTROL_DOMAIN_UUID='5b0b4f2c-2222-4a4a-9a9a-0123456789ab'
PRIMARY_DISK='$disk'
ACTIVE_SLOT='a'
SR_UUID='0b5e1d3c-55f2-4bd2-9d6c-6a2b1c0e7f10'
SR_TYPE='lvm'
MANAGEMENT_INTERFACE='xenbr0'
INSTALL_DATE='2026-11-26T08:00:00Z'
EOI
        printf '# xenhost slot a\nPARTLABEL=xh-dom0-a / ext4 errors=remount-ro 0 1\nPARTLABEL=xh-esp /boot/efi vfat umask=0077,nofail 0 2\n' \
                >"$root/etc/fstab"
}

# agent_pack ISO [POST]: an unsigned supplemental pack (the suite's media
# carry no keyring) with one RPM, acme-agent 1.0, that requires the base
# system's version (xenhost >= 0.1, the host's xenhost-release) and installs
# /usr/share/acme/agent.txt ("acme-agent 1.0"), with a %post script POST.
agent_pack() {
        test_rpm acme-agent 1.0 "Requires: xenhost >= 0.1" "acme-agent 1.0" "${2:-}" /usr/share/acme/agent.txt &&
                "$XH_TOP/build/bin/xenhost-pack" build --name acme-agent --version 1.0 --originator acme \
                        --requires 'xenhost >= 0.1' "$T_DIR/rpmbuild/RPMS/noarch/acme-agent-1.0-1.noarch.rpm" -o "$1"
}
