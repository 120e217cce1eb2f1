#!/bin/bash
# Supplemental packs in an unattended install (DESIGN.md sections 5 and 7):
# an answer file names two packs, one on the install media (<pack
# type="local">: the media's packs/) and one over http (a python3
# http.server on 127.0.0.1 in a network namespace of the test's own, with
# nothing but loopback); the second requires the first (pack:acme-base).
# The whole install runs onto a loop device (up to the boot loader, which
# needs a vfat mount); the slot then holds the packs' files, their RPMs in
# its rpm database and their records. Every bad pack (unsigned where the
# media carry a keyring, a corrupted RPM, an unreachable URL, an unmet
# pack requirement, two versions of one pack, a local pack by a name the
# media do not carry) stops the install with one line naming the pack and
# why, and the disk stays all zeros. The media's packs go in by default,
# first, unless the answer file names local packs or says
# <bundled-packs>no</bundled-packs>.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../media-lib.sh"

I="$XH_BIN/xenhost-install" P="$XH_BIN/xenhost-pack"
for t in "$I" "$P" rpmbuild rpm gpg gpgv python3 ip nsenter jq partx xorriso; do
        command -v "$t" >/dev/null || { not_ok "$t is needed"; t_finish; exit 1; }
done
# The media, before TMPDIR points into the test's directory (see trust.sh).
if [ -f "$XB_IMG" ] && [ -f "$XB_MAN" ]; then ok "the media are there"; else check "the media are built" media_ensure_iso; fi
cd "$T_DIR" || exit 1
mkdir -p tmp && export TMPDIR=$T_DIR/tmp

# --- a loopback-only network namespace with an http server ---------------------------
NS=xh-packs-$$
SERVER=
cleanup() {
        [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null
        ip netns del "$NS" 2>/dev/null
        umount "$T_DIR/slot" 2>/dev/null
        t_cleanup
}
trap cleanup EXIT
# The installer joins the namespace with nsenter --net, which keeps this
# machine's /sys (`ip netns exec` would mount the namespace's), so that it
# still finds the machine's NIC the answer file names.
ip netns add "$NS" && ip netns exec "$NS" ip link set lo up
check "a network namespace with loopback only" bash -c "[ \"\$(ip netns exec '$NS' ip -o link | wc -l)\" = 1 ]"
in_ns() { nsenter --net="/run/netns/$NS" "$@"; }
NIC=
for n in /sys/class/net/*; do
        [ -e "$n/device" ] && [ "$(cat "$n/type")" = 1 ] && { NIC=$(basename "$n"); break; }
done
[ -n "$NIC" ] || { not_ok "this machine has a NIC for the answer file"; t_finish; exit 1; }
mkdir -p www
nsenter --net="/run/netns/$NS" python3 -m http.server --bind 127.0.0.1 --directory "$T_DIR/www" 8080 >http.log 2>&1 &
SERVER=$!
for _ in $(seq 50); do
        in_ns python3 -c 'import socket; socket.create_connection(("127.0.0.1", 8080), 1)' 2>/dev/null && break
        sleep 0.2
done
check "the http server answers inside the namespace" in_ns python3 -c \
        'import socket; socket.create_connection(("127.0.0.1", 8080), 1)'

# --- RPMs and packs, signed with the key the media's keyring holds ------------------
test_rpm acme-base 1.0 "" "acme-base 1.0" "echo posted-\$1 >/var/lib/acme-base-post"
test_rpm acme-base 2.0 "" "acme-base 2.0" ""
test_rpm acme-tools 1.0 "Requires: acme-base >= 1.0" "acme-tools 1.0" ""
R=$T_DIR/rpmbuild/RPMS/noarch
check "rpmbuild made the test RPMs" test -s "$R/acme-base-1.0-1.noarch.rpm" -a -s "$R/acme-tools-1.0-1.noarch.rpm" \
        -a -s "$R/acme-base-2.0-1.noarch.rpm"

mkdir -m 700 gA gB
GNUPGHOME=$T_DIR/gA gpg --batch --quiet --passphrase '' --quick-gen-key 'xenhost release <rel@xenhost.invalid>' ed25519 sign never 2>/dev/null
GNUPGHOME=$T_DIR/gB gpg --batch --quiet --passphrase '' --quick-gen-key 'someone else <other@xenhost.invalid>' ed25519 sign never 2>/dev/null
GNUPGHOME=$T_DIR/gA gpg --batch --export rel@xenhost.invalid >release.gpg
check "the test key exists" test -s release.gpg

export SOURCE_DATE_EPOCH=1700000000 TZ=UTC
build() { GNUPGHOME=$T_DIR/gA "$P" build --originator acme "$@"; }
check "pack A: acme-base 1.0, signed" build --name acme-base --version 1.0 --build 1 --description 'Acme base' \
        --requires 'xenhost >= 0.1' --sign rel@xenhost.invalid "$R/acme-base-1.0-1.noarch.rpm" -o base.iso
check "pack B: acme-tools 1.0 requiring pack:acme-base, signed" build --name acme-tools --version 1.0 --build 1 \
        --requires 'pack:acme-base >= 1.0' --sign rel@xenhost.invalid "$R/acme-tools-1.0-1.noarch.rpm" -o tools.iso
check "an unsigned pack" build --name acme-extra --version 1.0 "$R/acme-tools-1.0-1.noarch.rpm" -o unsigned.iso
check "acme-base 2.0, signed" build --name acme-base --version 2.0 --build 1 --sign rel@xenhost.invalid \
        "$R/acme-base-2.0-1.noarch.rpm" -o base2.iso
# A pack with a corrupted RPM: a directory pack whose RPM lost a byte's worth.
xorriso -osirrox on -indev tools.iso -extract / corrupt >/dev/null 2>&1
chmod -R u+w corrupt
printf 'X' | dd of=corrupt/acme-tools-1.0-1.noarch.rpm bs=1 seek=2000 conv=notrunc status=none
check "the corrupted pack is a directory with pack.xml" test -s corrupt/pack.xml
cp tools.iso base2.iso unsigned.iso www/

# --- the media: the image, its signed manifest, the keyring, pack A in packs/ ------
mkdir -p media/xenhost media/packs
ln -f "$XB_IMG" media/xenhost/ 2>/dev/null || cp "$XB_IMG" media/xenhost/
cp "$XB_MAN" media/xenhost/
MAN=media/xenhost/$(basename "$XB_MAN")
GNUPGHOME=$T_DIR/gA gpg --batch --yes --armor --detach-sign --output "$MAN.asc" "$MAN" 2>/dev/null
cp release.gpg media/xenhost/keyring.gpg
cp base.iso media/packs/acme-base.iso
echo 'not a pack' >media/packs/README

truncate -s 50G disk.img
LOOP=$(loop_attach disk.img) || { not_ok "a loop device"; t_finish; exit 1; }
zero=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

answer() { # PACK-ELEMENTS...: the answer file
        {
                cat <<XML
<?xml version="1.0"?>
<installation mode="fresh" srtype="lvm">
  <primary-disk>$LOOP</primary-disk>
  <root-password type="plaintext">packs-pw-1</root-password>
  <source type="local"/>
  <admin-interface name="$NIC" proto="dhcp"/>
  <hostname>packhost</hostname>
XML
                printf '  %s\n' "$@"
                echo '</installation>'
        } >answer.xml
}
install() { # output in out, the log in install.log
        : >install.log
        XENHOST_FETCH_TIMEOUT=0 in_ns "$I" --answerfile answer.xml --media "$T_DIR/media" \
                --log-file "$T_DIR/install.log" --work-dir "$T_DIR/work" >out 2>&1
}
LOCAL='<pack type="local"/>'
url() { echo "<pack type=\"url\">$1</pack>"; }

# bad NAME WANT PACK-ELEMENTS...: refused before the first write with one
# line that names the pack and says WANT.
bad() {
        local name=$1 want=$2; shift 2
        answer "$@"
        install
        check_eq "$name: the install fails" 1 $?
        if [ "$(grep -c 'Installation failed' out)" -eq 1 ] && grep 'Installation failed' out | grep -qF -- "$want"; then
                ok "$name: one line: $(grep 'Installation failed' out)"
        else
                not_ok "$name: one line saying '$want'"; sed 's/^/#   /' out | tail -5
        fi
        check_eq "$name: the disk is all zeros" "$zero" "$(fingerprint disk.img)"
}
bad "an unsigned pack with the media's keyring" \
        "step verify-image: pack 2 (http://127.0.0.1:8080/unsigned.iso): unsigned: http://127.0.0.1:8080/unsigned.iso has no pack.xml.asc" \
        "$LOCAL" "$(url http://127.0.0.1:8080/unsigned.iso)"
bad "a pack with a corrupted RPM" \
        "step verify-image: pack 2 (file://$T_DIR/corrupt): checksum mismatch: acme-tools-1.0-1.noarch.rpm has SHA-256" \
        "$LOCAL" "$(url "file://$T_DIR/corrupt")"
bad "an unreachable URL" "step checks: pack 2 (http://127.0.0.1:9/tools.iso): cannot fetch http://127.0.0.1:9/tools.iso" \
        "$LOCAL" "$(url http://127.0.0.1:9/tools.iso)"
bad "a URL the server does not have" "step checks: pack 1 (http://127.0.0.1:8080/none.iso): cannot fetch http://127.0.0.1:8080/none.iso: HTTP 404" \
        "$(url http://127.0.0.1:8080/none.iso)" "$LOCAL"
bad "pack B before the pack it requires" \
        "step verify-image: pack 1 (http://127.0.0.1:8080/tools.iso): unmet requirement: pack acme-tools requires pack:acme-base >= 1.0, which is not installed" \
        "$(url http://127.0.0.1:8080/tools.iso)" "$LOCAL"
bad "two versions of one pack" \
        "step verify-image: pack 2 (http://127.0.0.1:8080/base2.iso): conflict: pack 1 (install media packs/acme-base.iso) is acme-base 1.0 build 1, this one is acme-base 2.0 build 1" \
        "$LOCAL" "$(url http://127.0.0.1:8080/base2.iso)"

# --- the plan lists the packs ---------------------------------------------------------
answer "$LOCAL" "$(url http://user:secret@127.0.0.1:8080/tools.iso)"
in_ns "$I" --dry-run --json --answerfile answer.xml --media "$T_DIR/media" >plan.json 2>plan.err
check_eq "the plan lists the packs in order, credentials redacted" \
        'local packs null|url null http://***@127.0.0.1:8080/tools.iso' \
        "$(jq -r '[.packs[] | "\(.type) \(.media_dir) \(.location)"] | join("|")' plan.json)"
check "the plan says the packs are applied" jq -e '.settings[] | select(.field == "packs") | .fate == "applied"' plan.json
in_ns "$I" --dry-run --answerfile answer.xml --media "$T_DIR/media" >plan.txt 2>&1
check "the printed plan lists the http pack" grep -q '^  2 url http://\*\*\*@127.0.0.1:8080/tools.iso' plan.txt
check_eq "the disk is still all zeros" "$zero" "$(fingerprint disk.img)"

# --- the packs the media carry: installed unless the answer file chooses ---------------
packs_of_plan() {
        in_ns "$I" --dry-run --json --answerfile answer.xml --media "$T_DIR/media" >plan.json 2>plan.err
        jq -r '[.packs[] | "\(.type) \(.location)"] | join("|")' plan.json
}
answer "$(url http://127.0.0.1:8080/tools.iso)"
check_eq "an answer file without a local pack gets the media's packs, first" \
        'local null|url http://127.0.0.1:8080/tools.iso' "$(packs_of_plan)"
answer '<bundled-packs>no</bundled-packs>'
check_eq "<bundled-packs>no: none of them" '' "$(packs_of_plan)"
answer '<pack type="local">acme-base.iso</pack>'
check_eq "a local pack by name: that one" 'local acme-base.iso' "$(packs_of_plan)"
bad "a local pack the media do not carry" \
        "step checks: pack 1 (local acme-none.iso): the install media carry no pack acme-none.iso" \
        '<pack type="local">acme-none.iso</pack>'
bad "a local pack by name that is not a pack" \
        "step checks: pack 1 (local README): the install media carry no pack README (an ISO or a directory)" \
        '<pack type="local">README</pack>'

# --- the good install: A from the media (by default), B over http -----------------------
answer "$(url http://127.0.0.1:8080/tools.iso)"
install
rc=$?
if [ $rc -eq 0 ] || grep -q 'Installation failed: step bootloader: mounting the ESP' out; then
        ok "the install with two packs gets through (up to the boot loader, which needs vfat)"
else
        not_ok "the install with two packs gets through"; sed 's/^/#   /' out | tail -8
fi
check "the operator sees the packs step" grep -q '%\] Installing the supplemental packs$' out
check "the packs step ran before the boot loader" \
        bash -c "grep -n 'Step 6/8: packs' install.log && grep -q 'Step 7/8: bootloader' install.log"
check "the log names A then B, installed in that order" bash -c \
        "grep -n 'Pack 1: acme-base 1.0 from install media packs/acme-base.iso installed' install.log | cut -d: -f1 >a &&
         grep -n 'Pack 2: acme-tools 1.0 from http://127.0.0.1:8080/tools.iso installed' install.log | cut -d: -f1 >b &&
         [ -s a ] && [ -s b ] && [ \$(cat a) -lt \$(cat b) ]"
check "the log says both verified with a good signature before the first write" bash -c \
        "grep -n 'verifies (signature good)' install.log | head -2 | wc -l | grep -qx 2 &&
         [ \$(grep -n 'verifies (signature good)' install.log | tail -1 | cut -d: -f1) -lt \$(grep -n 'Step 3/8: partition' install.log | cut -d: -f1) ]"
partx -u "$LOOP" 2>/dev/null
mkdir -p slot
if mount -o ro,noload "${LOOP}p3" slot; then
        check_eq "the slot holds pack A's file" "acme-base 1.0" "$(cat slot/usr/share/acme/acme-base.txt)"
        check_eq "the slot holds pack B's file" "acme-tools 1.0" "$(cat slot/usr/share/acme/acme-tools.txt)"
        check_eq "pack A's %post ran in the slot" "posted-1" "$(cat slot/var/lib/acme-base-post)"
        # rpm -qa --root on a copy: a reader of the database writes next to it.
        mkdir -p q/var/lib && cp -a slot/var/lib/rpm q/var/lib/
        check_eq "rpm -qa --root lists both RPMs, beside the base system's xenhost-release" \
                "acme-base-1.0-1.noarch acme-tools-1.0-1.noarch xenhost-release-$XB_VERSION-1.noarch" \
                "$(rpm --root "$T_DIR/q" --dbpath /var/lib/rpm -qa 2>/dev/null | sort | tr '\n' ' ' | sed 's/ $//')"
        check_eq "the records of both packs" "acme-base 1.0 acme|acme-tools 1.0 acme" \
                "$(for n in acme-base acme-tools; do jq -r '"\(.name) \(.version) \(.originator)"' "slot/var/lib/xenhost/packs/$n.json"; done | paste -sd'|')"
        check "pack B's record keeps its requirement" jq -e '.requires == ["pack:acme-base >= 1.0"]' \
                slot/var/lib/xenhost/packs/acme-tools.json
        check "the kept copies of both packs" test -s slot/var/lib/xenhost/packs/acme-base.pack/pack.xml \
                -a -s slot/var/lib/xenhost/packs/acme-tools.pack/pack.xml
        check "the host keeps the keyring the packs verified with" cmp release.gpg slot/etc/xenhost/keyring.gpg
        umount slot
else
        not_ok "slot a mounts"
fi
check_eq "no pack working directory is left behind" "" "$(ls tmp)"
t_finish
