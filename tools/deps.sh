#!/bin/bash
# Installs what xenhost needs from Debian 12's archive. Idempotent: packages
# already present are not touched, and apt runs only when something is
# missing. Usage: tools/deps.sh [build] [test] [media] [e2e] (default: all)
set -euo pipefail

build=(build-essential pkg-config libparted-dev libblkid-dev libfdisk-dev uuid-dev libjson-c-dev
       libcmocka-dev libxml2-dev libcurl4-openssl-dev libcrypt-dev libarchive-dev libefiboot-dev
       libefivar-dev libgpgme-dev libssl-dev libzstd-dev libncurses-dev librpm-dev)
# What the programs run at run time, and what the tests check them with
# (clang with its libFuzzer and sanitizer runtimes, and llvm-symbolizer for
# readable reports, build the fuzz harnesses of tests/fuzz).
# rpm gives rpmbuild (the supplemental-pack tests build small RPMs) and rpm
# to check a root's rpm database; xorriso reads pack ISOs back in tests.
test=(console-data tzdata e2fsprogs dosfstools mtools fdisk parted gdisk util-linux lvm2 udev jq bc python3 gpg gpgv file tftpd-hpa openssl tmux
      clang libclang-rt-dev llvm rpm xorriso)
media=(mmdebstrap squashfs-tools zstd xorriso grub-pc-bin grub-efi-amd64-bin grub-common grub2-common
       cpio busybox-static)
e2e=(qemu-system-x86 qemu-utils ovmf iproute2 sshpass openssh-client socat dnsmasq-base ipxe-qemu jq)

groups=("$@")
[ ${#groups[@]} -gt 0 ] || groups=(build test media e2e)
want=()
for g in "${groups[@]}"; do
        case "$g" in
        build) want+=("${build[@]}") ;;
        test) want+=("${test[@]}") ;;
        media) want+=("${media[@]}") ;;
        e2e) want+=("${e2e[@]}") ;;
        *) echo "deps.sh: unknown group '$g' (build, test, media, e2e)" >&2; exit 2 ;;
        esac
done

missing=()
for p in "${want[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -gt 0 ] || exit 0

if [ "$(id -u)" -ne 0 ]; then
        echo "deps.sh: missing packages (${missing[*]}); run as root to install them" >&2
        exit 1
fi
echo "Installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists when they are missing or older than a day.
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -1)" ]; then
        apt-get update -q >/dev/null || { echo "deps.sh: apt-get update failed: Debian's archive unreachable?" >&2; exit 1; }
fi
apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/xenhost-deps.log 2>&1 ||
        { tail -5 /tmp/xenhost-deps.log >&2; echo "deps.sh: apt-get install failed (log: /tmp/xenhost-deps.log)" >&2; exit 1; }
