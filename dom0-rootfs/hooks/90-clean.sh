#!/bin/bash
# Leave out what only the build needed, so that the image is the same for
# the same packages.
set -euo pipefail
tree=$1
rm -rf "$tree"/var/cache/apt/*.bin "$tree"/var/lib/apt/lists/* "$tree"/var/log/apt/* "$tree"/var/log/dpkg.log \
        "$tree"/var/log/alternatives.log "$tree"/var/cache/ldconfig/aux-cache "$tree"/tmp/* "$tree"/var/tmp/*
