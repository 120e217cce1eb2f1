#!/bin/sh
# An answer-file generator as answerfile_generator= runs it: it works out
# what this host should get and prints the answer file on stdout.
disk=sda
cat <<XML
<?xml version="1.0"?>
<installation mode="fresh">
  <primary-disk>$disk</primary-disk>
  <source type="local"/>
  <admin-interface name="eth0" proto="dhcp"/>
  <hostname>generated-host</hostname>
</installation>
XML
