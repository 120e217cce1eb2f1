#!/bin/bash
# xenhost-upgrade on a real xenhost disk (a loop device with the compact
# layout): the running slot a holds the host image with an operator's
# changes and is mounted as the running root; the ESP is a directory (no
# vfat mounts on the build machine). Checks the refusals (nothing written),
# apply from a path and from an http URL, the preserved items byte for
# byte, the boot state, mark-good, rollback, the status contract, and an
# upgrade cut short at several steps and run again.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../media-lib.sh"

U="$XH_BIN/xenhost-upgrade"
for t in "$U" "$XH_BIN/xenhost-partition" jq python3 debugfs; do
        command -v "$t" >/dev/null || { not_ok "$t is needed"; t_finish; exit 1; }
done
if [ ! -f "$XB_MAN" ]; then
        check "the host image is built" media_ensure_iso
fi
cd "$T_DIR" || exit 1

# --- a host: the disk, slot a with the image, the ESP, the running root ----
truncate -s 14G disk.img
L=$(loop_attach -P disk.img)
check "the disk gets the xenhost layout" "$XH_BIN/xenhost-partition" apply "$L" --wipe
"$XH_BIN/xenhost-build" write-slot "$XB_IMG" "$XB_MAN" "${L}p3" --label xh-dom0-a >write-a.log 2>&1
check "slot a holds the image" bash -c "debugfs -R 'cat /etc/xenhost-release' ${L}p3 2>/dev/null | grep -q VERSION=$XB_VERSION"
mkdir -p root esp
mount "${L}p3" root
ROOT=$T_DIR/root ESP=$T_DIR/esp
cleanup_mounts() { umount -l "$ROOT" "$T_DIR/mb" 2>/dev/null; }
trap 'cleanup_mounts; t_cleanup' EXIT

mkdir -p "$ROOT/etc/xenhost/preserve.d" "$ROOT/etc/xen/auto" "$ROOT/root/.ssh"
host_root_files "$ROOT" "$L"
echo upgrade-host >"$ROOT/etc/hostname"
echo 'ops:x:1500:1500:Operator:/home/ops:/bin/bash' >>"$ROOT/etc/passwd"
echo 'ops:$y$j9T$abcdefghijklmnopqrstu.$0123456789abcdefghijklmnopqrstuvwxyzABCDE:20000:0:99999:7:::' >>"$ROOT/etc/shadow"
echo 'ops:x:1500:' >>"$ROOT/etc/group"
echo 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOperatorKeyForTests ops@site' >"$ROOT/root/.ssh/authorized_keys"
head -c 400 /dev/urandom | base64 >"$ROOT/etc/ssh/ssh_host_ed25519_key"
printf 'name="g1"\nmemory=256\n' >"$ROOT/etc/xen/auto/g1.cfg"
head -c 300 /dev/urandom | base64 >"$ROOT/etc/site.conf"
printf '# site files\n/etc/site.conf\n/etc/site.d\n' >"$ROOT/etc/xenhost/preserve.d/site.list"
echo 5b0b4f2c33334a4a9a9a0123456789ab >"$ROOT/etc/machine-id"
# <ssh-mode>off</ssh-mode> and a service of the operator's own.
rm -f "$ROOT/etc/systemd/system/multi-user.target.wants/ssh.service"
printf '[Unit]\nDescription=site agent\n[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n' >"$ROOT/etc/systemd/system/site-agent.service"
ln -sf /etc/systemd/system/site-agent.service "$ROOT/etc/systemd/system/multi-user.target.wants/site-agent.service"
PRESERVED="/etc/hostname /etc/xen/auto/g1.cfg /etc/site.conf /root/.ssh/authorized_keys /etc/ssh/ssh_host_ed25519_key /etc/machine-id /etc/xenhost/preserve.d/site.list"
sums() { (cd "$1" && sha256sum $(echo "$PRESERVED" | sed 's|/||; s| /| |g')); }
sums "$ROOT" >preserved.sums

# The boot state and grub.cfg the installer leaves.
fsa=$(blkid -s UUID -o value "${L}p3")
"$XH_BIN/xenhost-boot" grub-cfg --esp "$ESP" --default a "a:$fsa:$XB_VERSION:xen-4.17-amd64.gz:vmlinuz-x:initrd-x" >/dev/null
"$XH_BIN/xenhost-boot" set-default "$ESP" a
up() { "$U" --root "$ROOT" --esp "$ESP" --work-dir "$T_DIR/work" "$@"; }

# --- version N+1: the same image under a newer version, and broken ones ------
mkv() { # DIR VERSION [SED]: a manifest for the image under another version
        mkdir -p "$1"
        sed "s/^VERSION=.*/VERSION=$2/; ${3:-}" "$XB_MAN" >"$1/xenhost-$2.manifest"
        ln -f "$XB_IMG" "$1/xenhost-$2.img" 2>/dev/null || cp "$XB_IMG" "$1/xenhost-$2.img"
}
mkv n1 99.1.0
mkv old 0.0.9
mkv product 99.2.0 's/^PRODUCT=.*/PRODUCT=otherhost/'
mkv minup 99.3.0 's/^MIN_UPGRADE_FROM=.*/MIN_UPGRADE_FROM=50.0/'
mkdir -p tampered && sed 's/^VERSION=.*/VERSION=99.4.0/' "$XB_MAN" >tampered/xenhost-99.4.0.manifest
cp "$XB_IMG" tampered/xenhost-99.4.0.img
printf 'X' | dd of=tampered/xenhost-99.4.0.img bs=1 seek=5000000 conv=notrunc status=none

state_sum() { cat "$ESP/grub/grubenv" "$ESP/xenhost/upgrade.state" 2>/dev/null | sha256sum; }
slot_b_sum() { dd if="${L}p4" bs=1M count=8 status=none | sha256sum; }
refused() { # NAME EXPECTED-IN-ERROR SOURCE [ARGS]
        local name=$1 want=$2 before bbefore; shift 2
        before=$(state_sum) bbefore=$(slot_b_sum)
        if up apply "$@" >out 2>err; then
                not_ok "$name is refused"
        else
                ok "$name is refused"
        fi
        check_eq "$name: one line saying so" "1 yes" "$(wc -l <err) $(grep -qi -- "$want" err && echo yes)"
        check_eq "$name: the boot state and the state file are untouched" "$before" "$(state_sum)"
        check_eq "$name: slot b is untouched" "$bbefore" "$(slot_b_sum)"
}
refused "a downgrade" "older than the running" old/xenhost-0.0.9.manifest
refused "another product" "product" product/xenhost-99.2.0.manifest
refused "an image over MIN_UPGRADE_FROM" "upgrades hosts from 50.0" minup/xenhost-99.3.0.manifest
refused "a tampered image" "SHA-256\|sha256\|checksum" tampered/xenhost-99.4.0.manifest
refused "a missing manifest" "cannot read the manifest" n1/nonexistent.manifest
printf 'not a manifest\n' >garbage.manifest
refused "a file that is not a manifest" "garbage.manifest" garbage.manifest

check_eq "status before: slot a good and running, slot b empty" "a a good empty" \
        "$(up status --json | jq -r '"\(.active_slot) \(.default_slot) \(.slots.a.state) \(.slots.b.state)"')"

# --- an upgrade cut short (a power cut at carry-over), then run again ---------
XENHOST_TEST_HOLD_STEP=carry-over "$U" --root "$ROOT" --esp "$ESP" --work-dir "$T_DIR/work" apply n1/xenhost-99.1.0.manifest >cut.out 2>&1 &
pid=$!
for _ in $(seq 1 120); do grep -q 'holding before carry-over' cut.out && break; sleep 1; done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
umount -l "$T_DIR/work/target" 2>/dev/null
up status --json >cut.json
check_eq "cut at carry-over: status says slot b incomplete, the upgrade interrupted at carry-over, a boots next" \
        "incomplete upgrade interrupted carry-over a" \
        "$(jq -r '"\(.slots.b.state) \(.last_operation.kind) \(.last_operation.result) \(.last_operation.step) \(.default_slot)"' cut.json)"
check_eq "cut at carry-over: grubenv still boots slot a, nothing tried" "default_slot=a try_slot=" \
        "$("$XH_BIN/xenhost-boot" show "$ESP" | sed -n '1,2p' | tr '\n' ' ' | sed 's/ $//')"
XENHOST_TEST_FAIL_STEP=boot-entry up apply n1/xenhost-99.1.0.manifest >/dev/null 2>err
check_eq "a failure at boot-entry is recorded with its step" "failed boot-entry incomplete" \
        "$(up status --json | jq -r '"\(.last_operation.result) \(.last_operation.step) \(.slots.b.state)"')"

# --- apply from an http URL ---------------------------------------------------
cp tampered/* n1/
port=$((20000 + RANDOM % 20000))
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$T_DIR/n1" >http.log 2>&1 &
HTTP_PID=$!
trap 'kill $HTTP_PID 2>/dev/null; cleanup_mounts; t_cleanup' EXIT
for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.2; done
refused "a tampered image from a URL (hashed as it downloads)" "SHA-256" "http://127.0.0.1:$port/xenhost-99.4.0.manifest"
tree_sum() { (cd "$1" && find . -xdev \( -type f -o -type l \) -printf '%p %s %m %T@\n' | sort | sha256sum); }
ROOT_SUM=$(tree_sum "$ROOT")
t0=$(date +%s.%N)
if up apply --json "http://127.0.0.1:$port/xenhost-99.1.0.manifest" >apply.json 2>apply.err; then
        ok "apply from an http URL ($(echo "$(date +%s.%N) - $t0" | bc | cut -c1-5) s; slot written in $(jq -r '.write_seconds' apply.json | cut -c1-5) s)"
else
        not_ok "apply from an http URL"
        sed 's/^/#   /' apply.err apply.json
fi
check_eq "apply --json says what it did" "applied 0.1.0 99.1.0 b" \
        "$(jq -r '"\(.result) \(.from_version) \(.to_version) \(.slot)"' apply.json | sed "s/$XB_VERSION/0.1.0/")"
check_eq "grubenv: slot b is tried 3 times, slot a stays the fallback" \
        "default_slot=a try_slot=b tries_left=3" \
        "$("$XH_BIN/xenhost-boot" show "$ESP" | sed -n '1,3p' | tr '\n' ' ' | sed 's/ $//')"
up status --json >st.json
check_eq "status: b trying with 3 boots, a good, b next, the upgrade succeeded" \
        "trying 3 good b upgrade succeeded 99.1.0" \
        "$(jq -r '"\(.slots.b.state) \(.slots.b.tries_left) \(.slots.a.state) \(.default_slot) \(.last_operation.kind) \(.last_operation.result) \(.slots.b.version)"' st.json)"
check "grub.cfg has both slots" bash -c "grep -q 'slot-a' '$ESP/grub/grub.cfg' && grep -q 'slot-b' '$ESP/grub/grub.cfg' && grep -q 'PARTLABEL=xh-dom0-b' '$ESP/grub/grub.cfg'"
before=$(state_sum)
check "apply of the same version again is a no-op" bash -c "'$U' --root '$ROOT' --esp '$ESP' --work-dir '$T_DIR/work' apply n1/xenhost-99.1.0.manifest | grep -q 'nothing to do'"
check_eq "the no-op wrote nothing" "$before" "$(state_sum)"
mkv n2 99.5.0
refused "an upgrade while another is being tried" "still being tried" n2/xenhost-99.5.0.manifest

# --- the new slot: what was carried over --------------------------------------
mkdir -p mb && mount -o ro "${L}p4" mb
check_eq "every preserved item is there byte for byte" "$(cat preserved.sums)" "$(sums "$T_DIR/mb")"
check_eq "the operator's account and its hash are there" "$(grep '^ops:' "$ROOT/etc/shadow")" "$(grep '^ops:' mb/etc/shadow)"
check_eq "shadow keeps its owner group and mode" "$(stat -c '%G %a' "$ROOT/etc/shadow")" "$(stat -c '%G %a' mb/etc/shadow)"
check_eq "the inventory names the new version and slot, with the same UUIDs" \
        "99.1.0 b 5b0b4f2c-1111-4a4a-9a9a-0123456789ab" \
        "$(. mb/etc/xenhost/inventory; echo "$PRODUCT_VERSION $ACTIVE_SLOT $INSTALLATION_UUID")"
check_eq "services: ssh stays disabled, the operator's unit enabled, the health check enabled" "no yes yes" \
        "$(for u in ssh site-agent xenhost-health; do [ -L "mb/etc/systemd/system/multi-user.target.wants/$u.service" ] && echo yes || echo no; done | xargs)"
check "the new slot's fstab mounts the new slot" grep -q '^PARTLABEL=xh-dom0-b / ' mb/etc/fstab
check_eq "the new slot's ext4 is labelled xh-dom0-b" "xh-dom0-b" "$(blkid -s LABEL -o value "${L}p4")"
check_eq "the running slot was not written by the upgrade" "$ROOT_SUM" "$(tree_sum "$ROOT")"
umount mb

# --- the new slot boots and passes its health check ---------------------------
mount "${L}p4" mb
MB=$T_DIR/mb
upb() { "$U" --root "$MB" --esp "$ESP" --work-dir "$T_DIR/work" --slot b "$@"; }
check "trying: slot b's boot is a try" upb trying
check_fails "trying: slot a's boot is not" up --slot a trying
check "mark-good on slot b" upb mark-good
check_eq "after mark-good: b is the default and good, nothing tried" "b good good default_slot=b try_slot=" \
        "$(upb status --json | jq -r '"\(.default_slot) \(.slots.b.state) \(.slots.a.state)"') $("$XH_BIN/xenhost-boot" show "$ESP" | sed -n '1,2p' | tr '\n' ' ' | sed 's/ $//')"

# --- rollback from b to a, tried with boot counting -------------------------------
check "rollback from slot b" upb rollback
check_eq "after rollback: a is tried, b stays the fallback" "default_slot=b try_slot=a tries_left=3" \
        "$("$XH_BIN/xenhost-boot" show "$ESP" | sed -n '1,3p' | tr '\n' ' ' | sed 's/ $//')"
check_eq "status after rollback" "a rollback succeeded" \
        "$(upb status --json | jq -r '"\(.default_slot) \(.last_operation.kind) \(.last_operation.result)"')"
check "slot a passes its health check" up --slot a mark-good
check_eq "a is the default again" "default_slot=a try_slot=" \
        "$("$XH_BIN/xenhost-boot" show "$ESP" | sed -n '1,2p' | tr '\n' ' ' | sed 's/ $//')"

# --- a failed health check on a try, and GRUB's fallback ------------------------------
check "slot b's 99.1.0 is tried again (rollback from a)" up --slot a rollback
check "a failed health check on the try says: reboot" upb health-failed "xenbr0-no-address"
# GRUB counts the tries down and falls back: what it leaves in grubenv.
"$XH_BIN/xenhost-boot" set-default "$ESP" a
python3 - "$ESP/grub/grubenv" <<'PY'
import sys
p = sys.argv[1]
t = open(p).read()
head = "# GRUB Environment Block\nxh_default=a\nxh_try_failed=b\n"
open(p, "w").write(head + "#" * (1024 - len(head)))
PY
check "slot a, booted by GRUB's fallback, passes its health check" up --slot a mark-good
up status --json >fb.json
check_eq "status: slot b is bad with why, the fallback is recorded" "bad yes fallback failed yes" \
        "$(jq -r '"\(.slots.b.state) \(.slots.b.reason | test("xenbr0-no-address") | if . then "yes" else "no" end) \(.last_operation.kind) \(.last_operation.result) \(.last_operation.reason | test("slot b") | if . then "yes" else "no" end)"' fb.json)"
check_fails "rollback to a bad slot is refused" up --slot a rollback
umount mb

# --- preserve.d lines that are not paths are refused before anything is written ----
echo '/proc/self/mem' >"$ROOT/etc/xenhost/preserve.d/bad.list"
XENHOST_TEST_FAIL_STEP= up apply n2/xenhost-99.5.0.manifest >/dev/null 2>err
check "a preserve.d line under /proc is refused naming file and line" grep -q 'preserve.d/bad.list:1' err
rm -f "$ROOT/etc/xenhost/preserve.d/bad.list"

# --- apply from an install ISO, read without mounting it --------------------------
xorriso -as mkisofs -quiet -R -J -o n6.iso -graft-points "/xenhost/xenhost-99.6.0.img=$XB_IMG" \
        "/xenhost/xenhost-99.6.0.manifest=$(sed 's/^VERSION=.*/VERSION=99.6.0/' "$XB_MAN" >n6.manifest; echo "$T_DIR/n6.manifest")" \
        >/dev/null 2>&1
if up apply n6.iso >iso.out 2>&1; then ok "apply from an install ISO"; else not_ok "apply from an install ISO"; sed 's/^/#   /' iso.out; fi
check_eq "the ISO's version is tried in slot b" "trying 99.6.0" \
        "$(up status --json | jq -r '"\(.slots.b.state) \(.slots.b.version)"')"
check "nothing of the ISO stays mounted" bash -c "! grep -q '$T_DIR/work' /proc/self/mountinfo"

t_finish
