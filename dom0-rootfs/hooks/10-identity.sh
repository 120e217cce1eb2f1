#!/bin/bash
# Nothing unique to one host may be in the image: SSH host keys are made at
# first boot (xenhost-firstboot.service), the machine-id by systemd.
set -euo pipefail
tree=$1
rm -f "$tree"/etc/ssh/ssh_host_*_key "$tree"/etc/ssh/ssh_host_*_key.pub
: >"$tree/etc/machine-id"
rm -f "$tree/var/lib/dbus/machine-id"
echo xenhost >"$tree/etc/hostname"
