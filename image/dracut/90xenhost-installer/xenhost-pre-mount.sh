#!/bin/sh
# Hand the machine to the installer before dracut would mount a root.
/usr/sbin/xenhost-installer-run
