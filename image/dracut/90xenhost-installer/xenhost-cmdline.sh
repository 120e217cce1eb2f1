#!/bin/sh
# There is no root file system to mount: the installer runs in the initrd.
root=xenhost-installer
rootok=1
