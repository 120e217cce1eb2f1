#!/usr/bin/env python3
"""Seed inputs for fuzz-disk: partition tables made by sfdisk on a 4 MiB image
file, cut as the harness lays its input out (the first 128 sectors, then the
last 33). The xenhost one holds the GPT partitions of partitioner/layout.c in
the first sectors, and an LVM physical volume of VG_XenStorage-<uuid> at the
start of its SR partition, so that disk_probe() finds a xenhost disk with
its SR.  Usage: disk-seeds.py OUTDIR"""
import os, struct, subprocess, sys, tempfile, zlib

SECTOR, SIZE, HEAD, TAIL = 512, 4 << 20, 128, 33

def sfdisk(script, img):
    subprocess.run(["sfdisk", "-q", "--no-reread", "--no-tell-kernel", img], input=script.encode(),
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

def lvm_crc(data):
    # LVM's CRC-32: the reflected 0xEDB88320 polynomial, seed 0xf597a6cf, no final inversion.
    return zlib.crc32(data, 0xf597a6cf ^ 0xffffffff) ^ 0xffffffff

def lvm_pv(f, start):
    """An LVM2 label in sector 1 of the partition at sector START, metadata text after it."""
    label = bytearray(SECTOR)
    label[0:8] = b"LABELONE"
    struct.pack_into("<Q", label, 8, 1)              # sector of this label
    struct.pack_into("<I", label, 20, 32)            # offset of the PV header
    label[24:32] = b"LVM2 001"
    label[32:64] = b"Xh0fUzZ0Xh0fUzZ0Xh0fUzZ0Xh0fUzZ0"  # PV UUID
    struct.pack_into("<I", label, 16, lvm_crc(bytes(label[20:])))
    f.seek((start + 1) * SECTOR)
    f.write(label)
    f.seek((start + 8) * SECTOR)
    f.write(b"VG_XenStorage-0f8e9a52-3c1d-4b6e-9a7f-2d4c6b8e0a13 {\nid = \"x\"\nseqno = 1\n}\n")

def cut(img, out):
    with open(img, "rb") as f:
        head = f.read(HEAD * SECTOR)
        f.seek(SIZE - TAIL * SECTOR)
        tail = f.read(TAIL * SECTOR)
    with open(out, "wb") as f:
        f.write(head + tail)

def main():
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    esp, root, data, swap, lvm = ("C12A7328-F81F-11D2-BA4B-00A0C93EC93B", "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709",
                                  "0FC63DAF-8483-4772-8E79-3D69D8477DE4", "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F",
                                  "E6D6D379-F507-44C2-A23C-238F2A3DF928")
    tables = {
        "gpt-xenhost": "label: gpt\nfirst-lba: 34\n"
                       "start=34, size=2, name=xh-bios, type=21686148-6449-6E6F-744E-656564454649\n"
                       f"start=36, size=2, name=xh-esp, type={esp}\n"
                       f"start=38, size=2, name=xh-dom0-a, type={root}\n"
                       f"start=40, size=2, name=xh-dom0-b, type={root}\n"
                       f"start=42, size=2, name=xh-logs, type={data}\n"
                       f"start=44, size=2, name=xh-swap, type={swap}\n"
                       f"start=48, size=6000, name=xh-sr, type={lvm}\n",
        "gpt": "label: gpt\nsize=1M, name=one\nsize=1M, type=L\n",
        "msdos": "label: dos\nsize=1M, type=83, bootable\nsize=512K, type=82\ntype=5\nsize=256K, type=83\n",
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, script in tables.items():
            img = os.path.join(tmp, name + ".img")
            with open(img, "wb") as f:
                f.truncate(SIZE)
            sfdisk(script, img)
            if name == "gpt-xenhost":
                with open(img, "r+b") as f:
                    lvm_pv(f, 48)
            cut(img, os.path.join(outdir, name))

main()
