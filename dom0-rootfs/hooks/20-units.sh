#!/bin/bash
# Enable xenhost's units and the services a host runs.
set -euo pipefail
tree=$1
systemctl --root="$tree" enable xenhost-firstboot.service xenhost-sr.service xenhost-keymap.service xenhost-health.service xenhost-watchdog.service systemd-networkd.service ssh.service \
        systemd-timesyncd.service >/dev/null
