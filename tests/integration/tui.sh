#!/bin/bash
# The interactive installer (DESIGN.md section 10), driven under tmux on an
# 80x24 terminal (a serial terminal's size) through a whole install onto a
# loop device: every screen in order, Esc back on the way, every validation
# message, nothing written before the summary is confirmed, the result on the
# installed slot (host name, static address, time zone, root password), the
# saved answer file (valid, and the same plan as the install: --dry-run
# --json with the install's facts) and text snapshots of the disk, network
# and summary screens (tests/data/tui/*.txt; loop device names, the NIC and
# the version are normalised). XH_TUI_UPDATE=1 rewrites the snapshots.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../media-lib.sh"

X="$XH_BIN/xenhost-install"
for t in "$X" "$XH_BIN/xenhost-pack" tmux debugfs jq perl partx rpmbuild; do
        command -v "$t" >/dev/null || { not_ok "$t is needed"; t_finish; exit 1; }
done
check "the media are built" media_ensure_iso
cd "$T_DIR" || exit 1
DATA=$XH_TOP/tests/data/tui

# Our own tmux server: never anyone else's sessions.
TM=(tmux -L "xh-tui-$$" -f /dev/null)
trap '"${TM[@]}" kill-server 2>/dev/null; t_cleanup' EXIT

mkdir -p media/xenhost media/packs
cp "$XB_IMG" "$XB_MAN" media/xenhost/
# The media carry a pack (unsigned: these media have no keyring) and a file
# that is not one.
test_rpm acme-agent 1.0 "" "acme-agent 1.0" ""
SOURCE_DATE_EPOCH=1700000000 "$XH_BIN/xenhost-pack" build --name acme-agent --version 1.0 --originator acme \
        --description 'Acme monitoring agent' "$T_DIR/rpmbuild/RPMS/noarch/acme-agent-1.0-1.noarch.rpm" \
        -o media/packs/acme-agent.iso >pack.out 2>&1
check "a pack on the media" test -s media/packs/acme-agent.iso
echo 'not a pack' >media/packs/broken.iso
truncate -s 50G d1.img
truncate -s 20G d2.img
L1=$(loop_attach d1.img) && L2=$(loop_attach d2.img) || { not_ok "two loop devices"; t_finish; exit 1; }
zero=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

# start NAME: the installer in a new 80x24 session; its exit code lands in NAME.rc
start() {
        rm -f "$1.rc"
        "${TM[@]}" new-session -d -s "$1" -x 80 -y 24 \
                "env XENHOST_TUI_DISKS='$L1 $L2' '$X' --tui --media '$T_DIR/media' --log-file '$T_DIR/install.log' \
                 --work-dir '$T_DIR/work' 2>'$T_DIR/$1.err'; echo \$? >'$T_DIR/$1.rc'"
}
S=main
screen() { "${TM[@]}" capture-pane -p -t "$S"; }
shows() { screen | grep -qF -- "$1"; }
key() { "${TM[@]}" send-keys -t "$S" "$@"; }
type_text() { "${TM[@]}" send-keys -t "$S" -l "$1"; }
# wait_for TEXT [SECONDS]: until the screen shows TEXT
wait_for() {
        local i limit=$((${2:-10} * 10))
        for ((i = 0; i < limit; i++)); do
                screen | grep -qF -- "$1" && return 0
                sleep 0.1
        done
        echo "screen without '$1':"; screen
        return 1
}
# press KEY... then wait for TEXT: one check
step() { # DESCRIPTION TEXT KEY...
        local desc=$1 text=$2; shift 2
        [ $# -gt 0 ] && key "$@"
        check "$desc" wait_for "$text"
}
# The message of a screen, typed input kept: one check per validation.
says() { # DESCRIPTION MESSAGE KEY...
        local desc=$1 text=$2; shift 2
        key "$@"
        check "$desc: '$text'" wait_for "$text"
}
# Loop device names (padded to keep the columns), the NIC (this machine's),
# the version and the CPU warning (this machine's) vary; the rest must not.
normalise() {
        L1="$L1" L2="$L2" NIC="${NIC:-}" V="$XB_VERSION" perl -pe '
                for my $p (["LOOP1", $ENV{L1}], ["LOOP2", $ENV{L2}]) {
                        my ($to, $dev) = @$p; (my $name = $dev) =~ s{^/dev/}{};
                        my $pad = " " x (length($name) - length($to));
                        s{\Q$name\E(?= )}{$to$pad}g; s{\Q$name\E}{$to}g;
                }
                s{^(    [> ] )\S+ +([0-9a-f]{2}:){5}[0-9a-f]{2} .*$}{$1NIC MAC DRIVER LINK};
                s{Management: \Q$ENV{NIC}\E,}{Management: NIC,} if $ENV{NIC};
                s{xenhost \Q$ENV{V}\E}{xenhost VERSION}g;
                s{ +$}{};' |
        sed '/^  ! the CPU reports no hardware virtualization/,/guests will run/d'
}
snapshot() { # NAME: the screen, normalised, against tests/data/tui/NAME.txt
        screen | normalise >"$1.txt"
        if [ "${XH_TUI_UPDATE:-0}" = 1 ]; then
                mkdir -p "$DATA" && cp "$1.txt" "$DATA/$1.txt"
        fi
        if diff -u "$DATA/$1.txt" "$1.txt" >"$1.diff"; then ok "the $1 screen matches tests/data/tui/$1.txt"
        else not_ok "the $1 screen matches tests/data/tui/$1.txt"; sed 's/^/#   /' "$1.diff"; fi
}

start main
step "the first screen is the keymap, at 80x24" "Choose the keyboard layout."
says "Esc on the first screen goes nowhere" "This is the first screen: F10 leaves the installer." Escape
"${TM[@]}" resize-window -t main -x 70 -y 24
step "a terminal narrower than 80 columns is told so (KEY_RESIZE)" "the installer needs 80x24" 
"${TM[@]}" resize-window -t main -x 80 -y 24
step "... and the screen comes back at 80x24" "Choose the keyboard layout."
step "Enter: the welcome screen" "Install xenhost" Enter
check_fails "... without upgrade or restore: no xenhost disk yet" shows "Upgrade the installed"
step "Enter: the licence" "Licence: (*) Accept" Enter
says "declining the licence stays on it" "xenhost cannot be installed unless the licence is accepted." Right Enter
step "Esc from the licence: the welcome screen" "Welcome to the xenhost installer." Escape
step "Enter: the licence again, declined as left" "Licence: ( ) Accept   (*) Decline" Enter
step "accepting it: the hardware warnings" "below 46 GB: installed on it, xenhost" Left Enter
check "... name the 20 GB disk for the compact layout" wait_for "$L2 is 21.5 GB, below 46 GB"
step "Enter: the disks" "Primary disk (xenhost and the local SR):" Enter
check "... list both offered disks with model and size" wait_for "${L2#/dev/}"
check "... and say what is on the disk under the cursor" wait_for "holds: blank"
if screen | grep -qE '^ *[> ] *(\[.\] )?(sd|vd|hd|nvme|xvd|mmcblk)'; then not_ok "... and no disk of the build machine"
else ok "... and no disk of the build machine"; fi
snapshot disks
says "the primary disk cannot be an extra SR disk too" "is the primary disk: it cannot be an extra SR disk too." Tab Space Enter
step "unmarked, Enter: the SR type" "SR type: (*) LVM" Space Enter
step "Esc from the SR type: the disks" "Primary disk (xenhost and the local SR):" Escape
step "Enter: the SR type again" "SR type: (*) LVM" Enter
step "Enter: the installation source, this media" "This media carries xenhost $XB_VERSION" Enter
key Right Tab
type_text "example.com/repo"
says "a source that is not a URL" "'example.com/repo' is not an http://, https://, ftp://, file:// or nfs://" Enter
step "the media: the supplemental packs" "Packs on this media (Space marks, [x] is installed):" BTab Left Enter
check "... list the media's pack, marked to be installed" wait_for "> [x] acme-agent               1.0          acme"
check "... with its description" wait_for "acme-agent.iso: Acme monitoring agent"
check "... and the file that is not a pack, unmarked" wait_for "[ ] broken.iso: not a readable pack"
step "... saying why for the one under the cursor" "broken.iso is not a pack:" Down
says "marking a file that is not a pack is refused" "broken.iso cannot be read as a pack: unmark it." Space Enter
key Space Tab
type_text "ftp//nonsense"
says "a pack URL that is not one" "'ftp//nonsense' is not an http://, https://, ftp://, file:// or nfs:// URL" Enter
key C-u
step "the pack chosen: the root password" "at least 8 characters" Enter
type_text "short12"; key Tab; type_text "short12"
says "a short password" "The password is too short: at least 8 characters." Enter
type_text "tui-password-1"; key Tab; type_text "tui-password-2"
says "two different passwords" "The two passwords do not match: type them again." Enter
type_text "tui-password-1"
step "matching: the network" "Management interface:" Enter
NIC=$(screen | sed -n 's/^    > \([^ ]*\) .*/\1/p' | head -1)
NIC_MAC=$(cat "/sys/class/net/$NIC/address" 2>/dev/null)
check "... offers a NIC of this machine with its MAC, driver and link" wait_for "link "
key Tab Right Tab
type_text "192.168.77.300"; key Tab; type_text "255.255.255.0"; key Tab; type_text "192.168.77.1"; key Tab Tab
type_text "192.168.77.53"
says "a bad IP address" "'192.168.77.300' is not an IPv4 address" Enter
key C-u; type_text "192.168.77.0"
says "the network address of its subnet" "'192.168.77.0' is the network address of its subnet (/24)" Enter
key C-u; type_text "192.168.77.20"
says "an empty host name" "Type a host name." Enter
type_text "tuihost.example.com"
key BTab BTab C-u; type_text "255.0.255.0"
says "a netmask that is not one" "'255.0.255.0' is not an IPv4 netmask" Enter
key C-u; type_text "255.255.255.0"; key Down C-u; type_text "192.168.78.1"
says "a gateway outside the subnet" "gateway 192.168.78.1 is outside the subnet of 192.168.77.20/24" Enter
key C-u; type_text "192.168.77.1"; key Down Down C-u; type_text "192.168.77.53, nonsense"
says "a DNS server that is not an IP address" "'nonsense' is not an IP address" Enter
key C-u; type_text "192.168.77.53"
step "valid: the time zone region" "first its region" Enter
step "Esc from the time zone: the network, as typed" "Address:      [192.168.77.20" Escape
snapshot network
step "Enter: the region again" "first its region" Enter
step "E: Europe" "> Europe" E
step "Enter: its cities" "Time zone: Europe" Enter
step "B B B: Berlin" "> Berlin" B B B
key Tab Right Right
says "NTP servers chosen, none typed" "Type at least one NTP server." Enter
type_text "bad..server"
says "a bad NTP server" "'bad..server' is not a host name or IP address" Enter
key C-u; type_text "ntp1.example.com"
step "valid: the summary" "These disks are ERASED:" Enter
check "... names the disk with model, size and serial" wait_for "$L1  53.7 GB  Loopback device  serial none  (primary)"
snapshot summary
check_eq "nothing is written before the summary is confirmed" "$zero" "$(fingerprint d1.img)"
check_eq "... on either disk" "$zero" "$(fingerprint d2.img)"
step "Esc from the summary: the time zone" "Time zone: Europe" Escape
step "Enter: the summary again" "Enter erases the disks above and installs xenhost." Enter

t0=$SECONDS
key Enter
: >progress.txt
for ((i = 0; i < 1200; i++)); do
        screen >now.txt
        cat now.txt >>progress.txt
        grep -q "Installation complete\|Installation failed" now.txt && break
        sleep 0.5
done
install_s=$((SECONDS - t0))
if grep -q "Installation complete" now.txt; then
        ok "the install completes (${install_s} s)"
        installed=1
elif grep -q "The install failed at step bootloader:" now.txt && grep -q "mounting the ESP" now.txt; then
        ok "the install runs up to the boot loader, which needs vfat (${install_s} s)"
        installed=0
        check "... the failure names the log" wait_for "The full log is $T_DIR/install.log."
else
        not_ok "the install completes"; sed 's/^/#   /' now.txt
        installed=0
fi
check "the progress screen showed the steps and a bar" grep -q "Step [0-9] of [0-9]: .*" progress.txt
check_fails "no child process printed over the screen" grep -E "mkfs\.fat [0-9]|resize2fs [0-9]|^mount: " progress.txt
check "... their output went to the log" grep -qE "mkfs\.fat [0-9]|resize2fs [0-9]" install.log

# The end: save the answer file, show it, leave.
key Home Down
step "the end offers to save the answer file" "Save to:" Enter
key C-u; type_text "$T_DIR/saved.xml"
step "... saves it" "The answer file was saved to $T_DIR/saved.xml." Enter
step "... and shows it" "<hostname>tuihost.example.com</hostname>" Down Enter
step "Esc: back to the end" "Exit" Escape
if [ "$installed" = 0 ]; then
        step "a failed install shows its log, from the end" "The log, $T_DIR/install.log (its end)" Home Enter
        check "... with the reason" wait_for "Installation failed: step bootloader"
        step "Esc: back to the end" "Save the log" Escape
        key Down Down Down
        step "... which saves the log" "Save to:" Enter
        key C-u; type_text "$T_DIR/saved.log"
        step "... where it is told" "The log was saved to $T_DIR/saved.log." Enter
        check "... and that is the install's log" grep -q "Installation failed: step bootloader" saved.log
        key Escape
fi
key End Enter
for ((i = 0; i < 50; i++)); do [ -s main.rc ] && break; sleep 0.1; done
check_eq "Exit leaves the installer (exit code)" "$((1 - installed))" "$(cat main.rc 2>/dev/null)"

# What the slot holds.
partx -u "$L1" 2>/dev/null
slot_cat() { debugfs -R "cat $1" "${L1}p3" 2>/dev/null; }
check_eq "the host name is the one typed" "tuihost.example.com" "$(slot_cat /etc/hostname)"
net=$(slot_cat /etc/systemd/network/30-xenbr0.network)
check "the static address is in the slot's network config" grep -qx "Address=192.168.77.20/24" <<<"$net"
check "... with the gateway" grep -qx "Gateway=192.168.77.1" <<<"$net"
check "... and the DNS server" grep -qx "DNS=192.168.77.53" <<<"$net"
check_eq "... on the chosen NIC's MAC" "MACAddress=$NIC_MAC" "$(grep -m1 '^MACAddress=' <<<"$net")"
check "the time zone is Europe/Berlin" bash -c "debugfs -R 'stat /etc/localtime' '${L1}p3' 2>/dev/null | grep -q 'Europe/Berlin'"
hash=$(slot_cat /etc/shadow | sed -n 's/^root:\([^:]*\):.*/\1/p')
check_eq "root's password is the one typed" "$hash" \
        "$(PW=tui-password-1 H="$hash" perl -e 'print crypt($ENV{PW}, $ENV{H})')"
check_eq "the pack chosen on its screen is installed" "acme-agent 1.0" "$(slot_cat /usr/share/acme/acme-agent.txt)"
check "... and recorded" bash -c "debugfs -R 'cat /var/lib/xenhost/packs/acme-agent.json' '${L1}p3' 2>/dev/null | jq -e '.name == \"acme-agent\"'"

# The answer file.
check "the saved answer file passes --check-answerfile" "$X" --check-answerfile saved.xml
check_fails "... and holds no clear-text password" grep -q "tui-password" saved.xml
check "... and names the one pack of the media chosen" grep -qF '<pack type="local">acme-agent.iso</pack>' saved.xml
plan=$T_DIR/install.plan.json
check "the confirmed plan is kept beside the log" test -s "$plan"
"$X" --dry-run --json --facts "$plan" --answerfile saved.xml >replan.json 2>replan.err
check_eq "... and the answer file reproduces it (--dry-run --json)" "$(jq -S . "$plan")" "$(jq -S . replan.json)"

# Again, now that the disk holds xenhost: upgrade and restore are offered; F10 leaves.
S=again
start again
step "a second run finds the installed host" "Choose the keyboard layout."
key Enter
check "... and offers upgrade and restore" wait_for "Upgrade the installed xenhost"
check "... naming its disk" shows "A xenhost installation was found on $L1."
key F10
for ((i = 0; i < 50; i++)); do [ -s again.rc ] && break; sleep 0.1; done
check_eq "F10 leaves with exit code 1" 1 "$(cat again.rc 2>/dev/null)"
check "... saying nothing was written" grep -q "nothing was written" again.err
echo "# install took ${install_s} s"
t_finish
