#!/bin/bash
# Installing from a network source (DESIGN.md section 9): <source
# type="url"> names an install tree served over http (the PXE tree's or the
# ISO's layout, xenhost/xenhost-VERSION.{manifest,img}) or a manifest. The
# installer reads the manifest when it plans, downloads the image before the
# first write, checks its size, SHA-256 and the manifest's signature, and
# only then partitions; the install runs onto a loop device (up to the boot
# loader, which needs a vfat mount). The test's server (python3, on
# 127.0.0.1 in a network namespace with loopback only) breaks the first
# transfer of the image halfway and answers Range requests: the installer
# resumes. A corrupted image, a missing manifest, an unsigned manifest where
# a keyring is configured and an unreachable server each stop the install
# with one line, the disk all zeros.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../media-lib.sh"

I="$XH_BIN/xenhost-install"
for t in "$I" gpg python3 ip nsenter jq partx; do
        command -v "$t" >/dev/null || { not_ok "$t is needed"; t_finish; exit 1; }
done
if [ -f "$XB_IMG" ] && [ -f "$XB_MAN" ]; then ok "the media are there"; else check "the media are built" media_ensure_iso; fi
cd "$T_DIR" || exit 1

NS=xh-net-$$
SERVER=
cleanup() {
        [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null
        ip netns del "$NS" 2>/dev/null
        umount "$T_DIR/slot" 2>/dev/null
        t_cleanup
}
trap cleanup EXIT
ip netns add "$NS" && ip netns exec "$NS" ip link set lo up
in_ns() { nsenter --net="/run/netns/$NS" "$@"; }
NIC=
for n in /sys/class/net/*; do
        [ -e "$n/device" ] && [ "$(cat "$n/type")" = 1 ] && { NIC=$(basename "$n"); break; }
done
[ -n "$NIC" ] || { not_ok "this machine has a NIC for the answer file"; t_finish; exit 1; }

# --- the trees: good (signed), corrupted, unsigned ---------------------------------
mkdir -m 700 g
GNUPGHOME=$T_DIR/g gpg --batch --quiet --passphrase '' --quick-gen-key 'xenhost release <rel@xenhost.invalid>' ed25519 sign never 2>/dev/null
GNUPGHOME=$T_DIR/g gpg --batch --export rel@xenhost.invalid >release.gpg
V=$XB_VERSION
M=xenhost-$V.manifest
for t in good bad unsigned noimage; do
        mkdir -p "www/$t/xenhost"
        cp "$XB_MAN" "www/$t/xenhost/$M"
done
ln "$XB_IMG" "www/good/xenhost/xenhost-$V.img" 2>/dev/null || cp "$XB_IMG" "www/good/xenhost/xenhost-$V.img"
ln "$XB_IMG" "www/unsigned/xenhost/xenhost-$V.img" 2>/dev/null || cp "$XB_IMG" "www/unsigned/xenhost/xenhost-$V.img"
cp "$XB_IMG" "www/bad/xenhost/xenhost-$V.img"
printf '\x5a' | dd of="www/bad/xenhost/xenhost-$V.img" bs=1 seek=$((64 * 1024 * 1024)) conv=notrunc status=none
for t in good bad noimage; do
        GNUPGHOME=$T_DIR/g gpg --batch --yes --armor --detach-sign --output "www/$t/xenhost/$M.asc" "www/$t/xenhost/$M" 2>/dev/null
done
check "the good tree's manifest is signed" test -s "www/good/xenhost/$M.asc"
echo "VERSION='$V'" >release
export XENHOST_RELEASE_FILE=$T_DIR/release

# --- the server: files with Range, the image's first transfer cut halfway ---------------
cat >server.py <<'PY'
import http.server, os, sys
root, port = sys.argv[1], int(sys.argv[2])
cut = set()  # each image's first whole transfer is cut halfway
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.path, self.headers.get("Range", "-")))
        sys.stderr.flush()
    def do_GET(self):
        path = os.path.join(root, self.path.lstrip("/"))
        if not os.path.isfile(path):
            self.send_response(404); self.send_header("Content-Length", "0"); self.end_headers(); return
        size = os.path.getsize(path)
        start, status = 0, 200
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and rng.endswith("-"):
            start, status = int(rng[6:-1]), 206
        self.send_response(status)
        self.send_header("Content-Length", str(size - start))
        if status == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, size - 1, size))
        self.end_headers()
        stop = size
        if path.endswith(".img") and status == 200 and path not in cut:
            cut.add(path)
            stop = size // 2
        with open(path, "rb") as f:
            f.seek(start)
            left = stop - start
            while left > 0:
                b = f.read(min(left, 1 << 20))
                if not b:
                    break
                self.wfile.write(b)
                left -= len(b)
        if stop < size:
            self.wfile.flush()
            self.connection.shutdown(2)
            self.close_connection = True
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/report":
            with open(os.path.join(root, "..", "report.jsonl"), "ab") as f:
                f.write(body + b"\n")
            self.send_response(204)
        else:
            self.send_response(500)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_request(self, code="-", size="-"):
        self.log_message("")
http.server.HTTPServer.allow_reuse_address = True
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY
nsenter --net="/run/netns/$NS" python3 server.py "$T_DIR/www" 8081 2>>http.log &
SERVER=$!
for _ in $(seq 50); do
        in_ns python3 -c 'import socket; socket.create_connection(("127.0.0.1", 8081), 1)' 2>/dev/null && break
        sleep 0.2
done
check "the server answers inside the namespace" in_ns python3 -c 'import socket; socket.create_connection(("127.0.0.1", 8081), 1)'

truncate -s 50G disk.img
LOOP=$(loop_attach disk.img) || { not_ok "a loop device"; t_finish; exit 1; }
zero=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

answer() { # SOURCE-URL [REPORT-URL]
        local rep=
        [ -n "${2:-}" ] && rep="<report url=\"$2\"/>"
        cat >answer.xml <<XML
<?xml version="1.0"?>
<installation mode="fresh" srtype="lvm">
  <primary-disk>$LOOP</primary-disk>
  <root-password type="plaintext">net-pw-123</root-password>
  <source type="url">$1</source>
  <admin-interface name="$NIC" proto="dhcp"/>
  <hostname>nethost</hostname>
  $rep
</installation>
XML
}
install() { # output in out, the log in install.log
        : >install.log
        XENHOST_FETCH_TIMEOUT=0 in_ns "$I" --answerfile answer.xml --keyring "$T_DIR/release.gpg" \
                --log-file "$T_DIR/install.log" --work-dir "$T_DIR/work" >out 2>&1
}
bad() { # NAME WANT SOURCE-URL [REPORT-URL]: one line naming what is wrong; the disk untouched
        local name=$1 want=$2
        answer "$3" "${4:-}"
        install
        check_eq "$name: the install fails" 1 $?
        if [ "$(grep -c 'Installation failed' out)" -eq 1 ] && grep 'Installation failed' out | grep -qF -- "$want"; then
                ok "$name: one line: $(grep 'Installation failed' out)"
        else
                not_ok "$name: one line saying '$want'"; sed 's/^/#   /' out | tail -5
        fi
        check_eq "$name: the disk is all zeros" "$zero" "$(fingerprint disk.img)"
}
U=http://127.0.0.1:8081

# --- the plan -------------------------------------------------------------------------
answer "http://user:secret@127.0.0.1:8081/good/"
in_ns "$I" --dry-run --json --answerfile answer.xml --work-dir "$T_DIR/work" >plan.json 2>plan.err
check_eq "the plan takes the image from the tree, credentials redacted" \
        "applied the host image from http://***@127.0.0.1:8081/good/, downloaded and verified before the first write" \
        "$(jq -r '.settings[] | select(.field == "sources") | "\(.fate) \(.detail)"' plan.json)"
check_eq "... the manifest of the installer's own version" "http://***@127.0.0.1:8081/good/xenhost/$M $V" \
        "$(jq -r '"\(.facts.image.source_url) \(.facts.image.version)"' plan.json)"
check_fails "... no credentials anywhere in the plan" grep -q secret plan.json
check "... and the manifest alone was read (not the image)" bash -c "! grep -q '\.img' http.log"
check_eq "the disk is still all zeros" "$zero" "$(fingerprint disk.img)"

# --- bad sources ------------------------------------------------------------------------
: >report.jsonl
bad "a corrupted image" "step verify-image: " "$U/bad/" "$U/report"
check "... after the whole image was downloaded, and named by its checksum" grep -q 'SHA-256' out
check_eq "... reported: start, the steps up to verify-image, the failure there" "start step:checks step:verify-image failure:verify-image" \
        "$(jq -r 'select(.event != "warning") | if .event == "step" or .event == "failure" then "\(.event):\(.step)" else .event end' report.jsonl | paste -sd' ')"
check "... the failure event gives the reason and the log's last lines" \
        jq -se 'length as $n | .[-1] | (.reason | test("SHA-256")) and (.log_tail | length > 0) and (.seq == $n)' report.jsonl
check "... and every event names the host by its MACs" \
        jq -se "length > 0 and all(.[]; .host.macs | index(\"$(cat "/sys/class/net/$NIC/address")\") != null)" report.jsonl
bad "a missing manifest" "cannot fetch $U/none/xenhost/$M: HTTP 404" "$U/none/"
bad "an unsigned manifest where a keyring is configured" "step verify-image: " "$U/unsigned/"
check "... said to be unsigned" grep -qi 'not signed\|no signature\|unsigned' out
check_fails "... and its image was never downloaded" grep -q 'unsigned/xenhost/.*\.img' http.log
bad "a missing image (a signed manifest without it)" \
        "step verify-image: cannot download the host image: cannot fetch $U/noimage/xenhost/xenhost-$V.img: HTTP 404" \
        "$U/noimage/"
check_eq "... asked for once (404 is final)" 1 "$(grep -c "^/noimage/xenhost/xenhost-$V.img " http.log)"
XENHOST_TEST_MEMORY_AVAILABLE=$((64 * 1024 * 1024)) bad "too little memory for the image" \
        "step verify-image: not enough memory to hold the" "$U/good/"
check "... the line says how much is available" grep -q '(64 MiB available)' out
check_fails "... and the image was not asked for" grep -q '^/good/xenhost/.*\.img' http.log
t0=$SECONDS
bad "an unreachable server" "cannot fetch http://127.0.0.1:9/xenhost-$V.manifest after 5 attempts" \
        "http://127.0.0.1:9/xenhost-$V.manifest"
echo "# the unreachable server was given up after $((SECONDS - t0)) s"

# --- the good install: the image's transfer is cut once, and resumed ------------------------
: >http.log
: >report.jsonl
answer "$U/good/xenhost/$M" "$U/report"
t0=$SECONDS
install
rc=$?
if [ $rc -eq 0 ] || grep -q 'Installation failed: step bootloader: mounting the ESP' out; then
        ok "the install from the network source gets through (up to the boot loader, which needs vfat; $((SECONDS - t0)) s)"
else
        not_ok "the install from the network source gets through"; sed 's/^/#   /' out | tail -8
fi
check "the first transfer of the image was cut, the second asked for the rest" \
        grep -qE "^/good/xenhost/xenhost-$V.img bytes=[1-9][0-9]*-$" http.log
sed 's/^/#   /' http.log
check "the log says where the image came from" grep -q "Downloading the host image $U/good/xenhost/xenhost-$V.img" install.log
check "the download came before the first write" bash -c \
        "[ \$(grep -n 'Downloaded [0-9]* bytes' install.log | cut -d: -f1) -lt \$(grep -n 'Step 3/8: partition' install.log | cut -d: -f1) ]"
check_eq "the downloaded bytes are the image's" "$(sha256sum <"$XB_IMG" | cut -d' ' -f1)" \
        "$(sed -n 's/.*Downloaded [0-9]* bytes, SHA-256 \([0-9a-f]*\).*/\1/p' install.log)"
check "the report has the start and every step up to the boot loader, their percentages rising" jq -se '
        [.[] | select(.event == "step")] as $s | (.[0].event == "start") and ([$s[].index] == [1,2,3,4,5,6,7]) and
        ([$s[].percent] == ([$s[].percent] | sort)) and ([.[].seq] == [range(1; length + 1)])' report.jsonl
check "... and the end: success, or the boot loader's vfat mount that this machine lacks" \
        jq -se '.[-1] | (.event == "success" and .percent == 100) or (.event == "failure" and .step == "bootloader")' report.jsonl
check_eq "the download does not stay in the work directory (memory, in the installer)" "" \
        "$(ls work/source/*.img work/image 2>/dev/null)"
check_fails "... and its tmpfs is unmounted" grep -q " $T_DIR/work/image " /proc/self/mountinfo
partx -u "$LOOP" 2>/dev/null
mkdir -p slot
if mount -o ro,noload "${LOOP}p3" slot; then
        check_eq "slot a holds the version of the tree" "$V" "$(. slot/etc/xenhost/inventory; echo "$PRODUCT_VERSION")"
        check "the host keeps the keyring the image verified with" cmp release.gpg slot/etc/xenhost/keyring.gpg
        umount slot
else
        not_ok "slot a mounts"
fi

# --- a report endpoint that is down, or answers 500, never stops an install -------------------
for rep in http://127.0.0.1:9/report "$U/broken"; do
        answer "$U/good/xenhost/$M" "$rep"
        t0=$SECONDS
        install
        if grep -q 'Installation failed: step bootloader: mounting the ESP' out || grep -q 'xenhost is installed' out; then
                ok "report to $rep: the install goes on as without a report ($((SECONDS - t0)) s)"
        else
                not_ok "report to $rep: the install goes on as without a report"; tail -5 out | sed 's/^/#   /'
        fi
        check "... and the log counts the events not delivered" grep -q 'report: [0-9]* event(s) could not be delivered' install.log
done
t_finish
