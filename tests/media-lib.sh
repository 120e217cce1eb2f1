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
