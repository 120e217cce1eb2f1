# Shared helpers for the integration tests: TAP-like "ok"/"not ok" lines,
# scratch space that is cleaned up, loop devices that are always detached.
set -u
XH_BIN=${XH_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/build/bin}
XH_TOP=${XH_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
export PATH="$XH_BIN:$PATH"
T_NUM=0 T_FAILED=0
T_DIR=$(mktemp -d "${TMPDIR:-/tmp}/xh-test.XXXXXX")
T_LOOPS=()

t_cleanup() {
        local l
        # loop_attach runs in $(...), a subshell: its devices are listed in a file.
        for l in "${T_LOOPS[@]}" $(cat "$T_DIR/.loops" 2>/dev/null); do losetup -d "$l" 2>/dev/null; done
        rm -rf "$T_DIR"
}
trap t_cleanup EXIT

ok() { T_NUM=$((T_NUM + 1)); echo "ok $T_NUM - $*"; }
not_ok() { T_NUM=$((T_NUM + 1)); T_FAILED=$((T_FAILED + 1)); echo "not ok $T_NUM - $*"; }

# skip DESCRIPTION REASON: a check that cannot run here; counted as skipped, not passed.
skip() { T_NUM=$((T_NUM + 1)); echo "ok $T_NUM - $1 # SKIP $2"; }

# check DESCRIPTION COMMAND...: passes when COMMAND exits 0.
check() {
        local desc=$1; shift
        if "$@" >"$T_DIR/.out" 2>&1; then ok "$desc"; else
                not_ok "$desc"; sed 's/^/#   /' "$T_DIR/.out" | tail -20
        fi
}
# check_fails DESCRIPTION COMMAND...: passes when COMMAND exits non-zero.
check_fails() {
        local desc=$1; shift
        if "$@" >"$T_DIR/.out" 2>&1; then not_ok "$desc (succeeded)"; sed 's/^/#   /' "$T_DIR/.out" | tail -20
        else ok "$desc"; fi
}
# check_eq DESCRIPTION EXPECTED ACTUAL
check_eq() {
        if [ "$2" == "$3" ]; then ok "$1"; else not_ok "$1"; echo "#   expected: $2"; echo "#   actual:   $3"; fi
}

# A loop device for FILE (extra losetup options before it); echoes its node.
loop_attach() {
        local l
        l=$(losetup -f --show "$@") || return 1
        # A loop device detached while one of its partitions was busy keeps
        # that partition's node: drop what the new backing file does not
        # have, then read its own table (none for a blank file).
        if ls "/sys/block/${l#/dev/}" 2>/dev/null | grep -q "^${l#/dev/}p"; then
                partx -d "$l" 2>/dev/null
                partx -a "$l" 2>/dev/null
        fi
        T_LOOPS+=("$l")
        echo "$l" >>"$T_DIR/.loops"
        echo "$l"
}

# A fingerprint of the content of a (sparse) file, or of a byte range of it,
# cheap on big sparse images: every non-zero 64 KiB block with its offset.
# Zero blocks are skipped, so it does not depend on how the file system
# happens to lay out holes and unwritten extents, only on the bytes.
fingerprint() { # FILE [OFFSET LENGTH]
        python3 - "$@" <<'PY'
import hashlib, os, sys
path = sys.argv[1]
fd = os.open(path, os.O_RDONLY)
size = os.lseek(fd, 0, os.SEEK_END)
start = int(sys.argv[2]) if len(sys.argv) > 2 else 0
end = start + int(sys.argv[3]) if len(sys.argv) > 3 else size
B = 65536
zero = bytes(B)
h = hashlib.sha256()
pos = start
while pos < end:
    try:
        data = os.lseek(fd, pos, os.SEEK_DATA)
    except OSError:
        break
    if data >= end:
        break
    hole = min(os.lseek(fd, data, os.SEEK_HOLE), end)
    off = max(start, data - (data - start) % B)
    while off < hole:
        n = min(B, end - off)
        b = os.pread(fd, n, off)
        if b != zero[:len(b)]:
            h.update(b"%d:" % off)
            h.update(b)
        off += n
    pos = max(hole, off)
print(h.hexdigest())
PY
}
t_finish() {
        echo "# $T_NUM checks, $T_FAILED failed"
        [ "$T_FAILED" -eq 0 ]
}

# test_rpm NAME VERSION HEADER CONTENT POST [FILE]: a small real RPM for the
# pack tests, built with rpmbuild into $T_DIR/rpmbuild/RPMS/noarch: it
# installs FILE (default /usr/share/acme/NAME.txt) holding CONTENT, with
# extra spec header lines HEADER (Requires: ...) and a %post script POST
# (none when empty).
test_rpm() {
        local f=${6:-/usr/share/acme/$1.txt} spec=$T_DIR/rpmbuild/SPECS/$1-$2.spec
        mkdir -p "$T_DIR/rpmbuild/SPECS"
        cat >"$spec" <<SPEC
Name: $1
Version: $2
Release: 1
Summary: $1 for xenhost's pack tests
License: MIT
BuildArch: noarch
$3
%description
$1
%install
mkdir -p %{buildroot}$(dirname "$f")
echo '$4' >%{buildroot}$f
$( [ -n "$5" ] && printf '%%post\n%s\n' "$5")
%files
$f
SPEC
        rpmbuild --quiet --define "_topdir $T_DIR/rpmbuild" -bb "$spec" >>"$T_DIR/rpmbuild.log" 2>&1
}
