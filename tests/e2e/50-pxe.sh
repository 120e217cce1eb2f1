#!/bin/bash
# Fleet installs over PXE (DESIGN.md section 9), end to end, in a network
# namespace of the test's own: a bridge with tap devices, a stock dnsmasq
# (DHCP and TFTP, tests/data/pxe/dnsmasq.conf, as docs/fleet.md serves a
# rack) and an HTTP server (the PXE tree, one answer file a host by MAC,
# the report endpoint). Two hosts, SeaBIOS (iPXE) and OVMF, PXE-boot side by
# side, get GRUB over TFTP and the installer over HTTP, fetch their own
# answer file (one DHCP, one static), install from the network source,
# boot into Xen, and are reached over SSH with their own host name and
# address; the report endpoint has each one's events and success. Then,
# side by side, a host served a corrupted image stops before writing its
# disk (all zeros) and reports the failure, and a host booted with
# answerfile=auto finds its answer file through DHCP option 250.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../media-lib.sh"

# XH_MEDIA_XB: the xenhost-build of another build directory (its programs
# go into the installer and the image).
XB=${XH_MEDIA_XB:-$XB}
for t in dnsmasq qemu-system-x86_64 sshpass python3 jq; do
        command -v "$t" >/dev/null || { not_ok "$t is needed"; t_finish; exit 1; }
done
PW='pxe-Test-pw1'
export SSHPASS=$PW
NS=xh-pxe-$$
SRV=10.77.0.1
ip netns add "$NS" && ip netns exec "$NS" ip link set lo up
# The serial logs and the servers' logs are kept beside the test's log.
keep_logs() {
        local d=${XH_BUILD:-$XH_TOP/build}/test-logs/50-pxe
        mkdir -p "$d" && cp "$T_DIR"/*.serial "$T_DIR"/*.log "$T_DIR"/report.jsonl "$T_DIR"/dnsmasq.conf "$d"/ 2>/dev/null
}
trap 'ip netns pids "$NS" 2>/dev/null | xargs -r kill 2>/dev/null; sleep 1; ip netns del "$NS" 2>/dev/null; keep_logs; t_cleanup' EXIT
in_ns() { ip netns exec "$NS" "$@"; }

[ -x "$XB" ] || make -C "$XH_TOP" -s -j"$(nproc)" >/dev/null
cd "$T_DIR" || exit 1
check "the PXE tree, kernel and initrd over HTTP, one answer file a host by MAC" \
        "$XB" pxe --out "$XB_OUT" --http "http://$SRV/" --answerfile "http://$SRV/hosts/{mac}.xml"
TREE=$XB_OUT/pxe
check "... its GRUB menu loads the installer over HTTP" grep -q "linux (http,$SRV)/xenhost/vmlinuz" "$TREE/boot/grub/grub.cfg"
check "... and passes the booting NIC's MAC into the answer file's URL" \
        grep -qF "answerfile=http://$SRV/hosts/\${net_default_mac}.xml" "$TREE/boot/grub/grub.cfg"
check "... BIOS and UEFI boot files" test -s "$TREE/boot/grub/i386-pc/core.0" -a -s "$TREE/boot/grub/x86_64-efi/core.efi"
check_eq "... every file readable by a TFTP server that is not root" "" \
        "$(find "$TREE" -type f ! -perm -0004 | head -3)"

# --- the network: a bridge, a tap a host, dnsmasq, an HTTP server ---------------------------
in_ns ip link add br0 type bridge
in_ns ip addr add "$SRV/24" dev br0
in_ns ip link set br0 up
for t in tapA tapB tapC tapD; do
        in_ns ip tuntap add dev "$t" mode tap
        in_ns ip link set "$t" master br0 up
done
MAC_A=52:54:00:77:00:0a MAC_B=52:54:00:77:00:0b MAC_C=52:54:00:77:00:0c MAC_D=52:54:00:77:00:0d
sed -e "s|@INTERFACE@|br0|; s|@RANGE_START@|10.77.0.100|; s|@RANGE_END@|10.77.0.150|; s|@TFTP_ROOT@|$TREE|" \
        "$XH_TOP/tests/data/pxe/dnsmasq.conf" >dnsmasq.conf
cat >>dnsmasq.conf <<EOF
# The test's own: host A's address, host D's answer file in option 250.
dhcp-host=$MAC_A,10.77.0.11
dhcp-host=$MAC_D,set:auto
dhcp-option=tag:auto,250,"http://$SRV/hosts/auto.xml"
dhcp-leasefile=$T_DIR/dnsmasq.leases
log-dhcp
EOF
in_ns dnsmasq --keep-in-foreground --conf-file="$T_DIR/dnsmasq.conf" --log-facility="$T_DIR/dnsmasq.log" \
        --pid-file="$T_DIR/dnsmasq.pid" &
mkdir -p www/hosts www/bad/xenhost
cat >server.py <<'PY'
# GET: the PXE tree (and www/ for hosts/ and bad/), with Range; POST /report.
import http.server, json, os, sys
tree, www, log = sys.argv[1], sys.argv[2], sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def note(self, status, sent):
        with open(log, "a") as f:
            f.write("%s %s %d %d\n" % (self.client_address[0], self.path, status, sent))
    def do_GET(self):
        path = self.path.split("?")[0].lstrip("/")
        root = www if path.startswith(("hosts/", "bad/")) else tree
        full = os.path.join(root, path)
        if not os.path.isfile(full):
            self.send_response(404); self.send_header("Content-Length", "0"); self.end_headers()
            self.note(404, 0); return
        size = os.path.getsize(full)
        start, status = 0, 200
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and rng.endswith("-"):
            start, status = int(rng[6:-1]), 206
        self.send_response(status)
        self.send_header("Content-Length", str(size - start))
        if status == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, size - 1, size))
        self.end_headers()
        sent = 0
        with open(full, "rb") as f:
            f.seek(start)
            while True:
                b = f.read(1 << 20)
                if not b:
                    break
                self.wfile.write(b)
                sent += len(b)
        self.note(status, sent)
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with open(os.path.join(www, "..", "report.jsonl"), "ab") as f:
            f.write(body + b"\n")
        self.send_response(204); self.send_header("Content-Length", "0"); self.end_headers()
        self.note(204, 0)
http.server.ThreadingHTTPServer.allow_reuse_address = True
http.server.ThreadingHTTPServer((sys.argv[4], 80), H).serve_forever()
PY
: >report.jsonl
in_ns python3 server.py "$TREE" "$T_DIR/www" "$T_DIR/http.log" "$SRV" 2>http.err &
for _ in $(seq 50); do
        in_ns python3 -c "import socket; socket.create_connection(('$SRV', 80), 1)" 2>/dev/null && break
        sleep 0.2
done
check "the HTTP server answers on the bridge" in_ns python3 -c "import socket; socket.create_connection(('$SRV', 80), 1)"
check "dnsmasq runs" bash -c "sleep 1; kill -0 \$(cat '$T_DIR/dnsmasq.pid')"

# A corrupted copy of the tree's image: one byte changed, same size.
cp "$TREE"/xenhost/xenhost-*.manifest www/bad/xenhost/
cp "$TREE"/xenhost/xenhost-"$XB_VERSION".img www/bad/xenhost/
printf '\x5a' | dd of="www/bad/xenhost/xenhost-$XB_VERSION.img" bs=1 seek=$((32 * 1024 * 1024)) conv=notrunc status=none

answerfile() { # HOSTNAME SOURCE NET-ELEMENT
        cat <<XML
<?xml version="1.0"?>
<installation mode="fresh" srtype="lvm">
  <primary-disk guest-storage="yes">vda</primary-disk>
  <root-password type="plaintext">$PW</root-password>
  <source type="url">$2</source>
  $3
  <hostname>$1</hostname>
  <timezone>Europe/London</timezone>
  <report url="http://$SRV/report"/>
</installation>
XML
}
answerfile pxe-a "http://$SRV/" "<admin-interface hwaddr=\"$MAC_A\" proto=\"dhcp\"/>" >"www/hosts/$MAC_A.xml"
answerfile pxe-b "http://$SRV/" "<admin-interface hwaddr=\"$MAC_B\" proto=\"static\"><ipaddr>10.77.0.21</ipaddr><subnet>255.255.255.0</subnet><gateway>$SRV</gateway></admin-interface>" \
        >"www/hosts/$MAC_B.xml"
answerfile pxe-c "http://$SRV/bad/" "<admin-interface hwaddr=\"$MAC_C\" proto=\"dhcp\"/>" >"www/hosts/$MAC_C.xml"
answerfile pxe-d "http://$SRV/" "<admin-interface hwaddr=\"$MAC_D\" proto=\"dhcp\"/>" >www/hosts/auto.xml

# qemu_tap NAME FIRMWARE TAP MAC LOG ARGS...: a host on the bridge; echoes the PID.
qemu_tap() {
        local name=$1 fw=$2 tap=$3 mac=$4 log=$5; shift 5
        local fwargs=()
        if [ "$fw" = uefi ]; then
                [ -f "$T_DIR/$name.vars" ] || cp /usr/share/OVMF/OVMF_VARS.fd "$T_DIR/$name.vars"
                fwargs=(-drive "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE.fd"
                        -drive "if=pflash,format=raw,unit=1,file=$T_DIR/$name.vars")
        fi
        : >"$log"
        ip netns exec "$NS" qemu-system-x86_64 -accel tcg,thread=multi -machine q35 -cpu qemu64 -m 3072 -smp 2 \
                -display none -monitor none -serial "file:$log" -no-reboot "${fwargs[@]}" \
                -netdev "tap,id=n0,ifname=$tap,script=no,downscript=no" "$@" >"$T_DIR/$name.qemu.log" 2>&1 &
        echo $!
}
wait_exit() { # PID TIMEOUT
        local start=$SECONDS
        while kill -0 "$1" 2>/dev/null; do
                [ $((SECONDS - start)) -ge "$2" ] && { kill "$1"; return 1; }
                sleep 2
        done
}
ssh_at() { # IP COMMAND...
        local ip=$1; shift
        in_ns sshpass -e ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
                -o ConnectTimeout=10 "root@$ip" "$@"
}
bytes_to() { # IP: what the HTTP server sent to that address
        awk -v ip="$1" '$1 == ip { s += $4 } END { print s + 0 }' http.log
}
ip_of() { # MAC: its DHCP lease's address
        awk -v m="$1" '$2 == m { print $3 }' dnsmasq.leases | tail -1
}

# --- two hosts, SeaBIOS and OVMF, side by side ----------------------------------------
truncate -s 50G a.disk b.disk
t0=$SECONDS
pa=$(qemu_tap pxe-a bios tapA "$MAC_A" a.install.serial -device "virtio-net-pci,netdev=n0,mac=$MAC_A" \
        -drive "file=a.disk,format=raw,if=virtio,cache=unsafe" -boot order=n)
pb=$(qemu_tap pxe-b uefi tapB "$MAC_B" b.install.serial -device "virtio-net-pci,netdev=n0,mac=$MAC_B,bootindex=1" \
        -drive "file=b.disk,format=raw,if=virtio,cache=unsafe")
# Each host's time: from power-on to its reboot (QEMU exits, -no-reboot).
declare -A took
while { kill -0 "$pa" || kill -0 "$pb"; } 2>/dev/null && [ $((SECONDS - t0)) -lt 1200 ]; do
        kill -0 "$pa" 2>/dev/null || took[a]=${took[a]:-$((SECONDS - t0))}
        kill -0 "$pb" 2>/dev/null || took[b]=${took[b]:-$((SECONDS - t0))}
        sleep 1
done
took[a]=${took[a]:-$((SECONDS - t0))} took[b]=${took[b]:-$((SECONDS - t0))}
for h in a b; do
        pid=$([ $h = a ] && echo "$pa" || echo "$pb")
        if wait_exit "$pid" 5 && grep -aq 'installation complete, rebooting' "$h.install.serial"; then
                ok "pxe-$h: PXE boot, answer file by MAC, install from the network source (${took[$h]} s from power-on)"
        else
                not_ok "pxe-$h: PXE boot, answer file by MAC, install from the network source"
                grep -a 'xenhost-installer\|XENHOST-PROGRESS\|FAILED\|xenhost-install:' "$h.install.serial" | tail -12 | sed 's/^/#   /'
                tail -c 2000 "$h.install.serial" | sed 's/^/#   /'
        fi
done
ip_a=$(ip_of "$MAC_A")
check_eq "pxe-a: DHCP gave the installer the address of its MAC" "10.77.0.11" "$ip_a"
check "pxe-a: fetched its own answer file" grep -q "^10.77.0.11 /hosts/$MAC_A.xml 200" http.log
ip_b=$(ip_of "$MAC_B")
check "pxe-b: fetched its own answer file" grep -q "^$ip_b /hosts/$MAC_B.xml 200" http.log
check "pxe-a: kernel and initrd came over HTTP" grep -q "^10.77.0.11 /xenhost/initrd.img 200" http.log
check "pxe-b: the UEFI boot file came over TFTP" grep -q "sent .*x86_64-efi/core.efi" dnsmasq.log
for h in a b; do
        ip=$([ $h = a ] && echo "$ip_a" || echo "$ip_b")
        echo "# pxe-$h: downloaded $(bytes_to "$ip") bytes over HTTP (installer, initrd, answer file, host image)"
done

# --- their first boot, side by side ---------------------------------------------------------
pa=$(qemu_tap pxe-a bios tapA "$MAC_A" a.boot.serial -device "virtio-net-pci,netdev=n0,mac=$MAC_A" \
        -drive "file=a.disk,format=raw,if=virtio,cache=unsafe" -boot order=c)
pb=$(qemu_tap pxe-b uefi tapB "$MAC_B" b.boot.serial -device "virtio-net-pci,netdev=n0,mac=$MAC_B" \
        -drive "file=b.disk,format=raw,if=virtio,cache=unsafe")
for h in a b; do
        if t=$(wait_serial "$h.boot.serial" 'XENHOST-HEALTH:' 600) && grep -aq 'XENHOST-HEALTH: OK' "$h.boot.serial"; then
                ok "pxe-$h: boots into Xen and passes its health check ($t s)"
        else
                not_ok "pxe-$h: boots into Xen and passes its health check"
                tail -c 2000 "$h.boot.serial" | sed 's/^/#   /'
        fi
done
check_eq "pxe-a: reached over SSH at its DHCP address, with its own host name" "pxe-a" "$(ssh_at 10.77.0.11 hostname 2>/dev/null)"
check_eq "pxe-b: reached over SSH at its static address, with its own host name" "pxe-b" "$(ssh_at 10.77.0.21 hostname 2>/dev/null)"
check "pxe-b: Domain-0 runs" grep -q Domain-0 <<<"$(ssh_at 10.77.0.21 xl list 2>/dev/null)"
for ip in 10.77.0.11 10.77.0.21; do ssh_at "$ip" poweroff >/dev/null 2>&1; done
wait_exit "$pa" 120 || true
wait_exit "$pb" 120 || true
for m in "$MAC_A" "$MAC_B"; do
        check "the report has $m's start, steps and success" jq -se --arg m "$m" '
                [.[] | select(.host.mac == $m)] as $e |
                ($e[0].event == "start") and ([$e[] | select(.event == "step")] | length == 8) and
                ($e[-1].event == "success") and ($e[-1].percent == 100)' report.jsonl
done

# --- a corrupted image, and answerfile=auto, side by side ------------------------------------------
truncate -s 50G c.disk d.disk
zero=$(fingerprint c.disk)
pc=$(qemu_tap pxe-c bios tapC "$MAC_C" c.serial -device "virtio-net-pci,netdev=n0,mac=$MAC_C" \
        -drive "file=c.disk,format=raw,if=virtio,cache=unsafe" -boot order=n)
# answerfile=auto: the tree's kernel and initrd, the URL from DHCP option 250.
pd=$(qemu_tap pxe-d bios tapD "$MAC_D" d.serial -device "virtio-net-pci,netdev=n0,mac=$MAC_D" \
        -drive "file=d.disk,format=raw,if=virtio,cache=unsafe" -smbios type=1,serial=XH-D-0001 -kernel "$TREE/xenhost/vmlinuz" \
        -initrd "$TREE/xenhost/initrd.img" -append "console=ttyS0,115200n8 answerfile=auto")
if t=$(wait_serial c.serial 'INSTALLATION FAILED' 900); then
        ok "pxe-c: the corrupted image stops the install ($t s)"
        grep -a 'Installation failed' c.serial | tr -d '\r' | head -1 | sed 's/^/#   /'
else
        not_ok "pxe-c: the corrupted image stops the install"; tail -c 2000 c.serial | sed 's/^/#   /'
fi
kill "$pc" 2>/dev/null
check "pxe-c: the failure names the image's checksum" grep -aq 'Installation failed: step verify-image: .*SHA-256' c.serial
check_eq "pxe-c: the disk is all zeros" "$zero" "$(fingerprint c.disk)"
check "pxe-c: the report has the failure, with the step, the reason and the log's end" jq -se --arg m "$MAC_C" '
        [.[] | select(.host.mac == $m)][-1] | .event == "failure" and .step == "verify-image" and
        (.reason | test("SHA-256")) and (.log_tail | length > 0)' report.jsonl
if wait_exit "$pd" 1200 && grep -aq 'installation complete, rebooting' d.serial; then
        ok "pxe-d: answerfile=auto found its answer file and installed"
else
        not_ok "pxe-d: answerfile=auto found its answer file and installed"
        grep -a 'xenhost-installer\|answer\|FAILED' d.serial | tail -8 | sed 's/^/#   /'
fi
check "pxe-d: the answer file came from DHCP option 250" grep -aq 'answer file found by DHCP option 250' d.serial
check "pxe-d: asked with its MACs, serial and product" grep -qE "/hosts/auto.xml\?mac=$MAC_D&serial=XH-D-0001&product=[^ &]+ 200" http.log
check "pxe-d: the report has its success" jq -se --arg m "$MAC_D" \
        '[.[] | select(.host.mac == $m)][-1].event == "success"' report.jsonl
echo "# PXE install (power-on to reboot): pxe-a (SeaBIOS) ${took[a]:-?} s, pxe-b (OVMF) ${took[b]:-?} s, side by side"
t_finish
