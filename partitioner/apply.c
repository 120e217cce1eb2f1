/* Applying a disk plan. The order matters for "nothing is lost": every check
 * runs before the first write, under an exclusive lock on the disk. */
#include "apply.h"

#include <blkid.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libfdisk.h>
#include <linux/blkpg.h>
#include <linux/loop.h>
#include <parted/parted.h>
#include <stdarg.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <uuid/uuid.h>

#include "fileio.h"
#include "format.h"
#include "log.h"
#include "macro.h"
#include "process.h"

int disk_plan_check(const struct disk_info *d, const struct disk_plan *plan, const struct apply_options *o,
                    char **ret_reason) {
        if (d->size_bytes != plan->size_bytes || d->sector_size != plan->sector_size) {
                reason_set(ret_reason, "%s is %" PRIu64 " bytes with %" PRIu32 "-byte sectors, the plan was made for %" PRIu64
                     " bytes with %" PRIu32 "-byte sectors", d->path, d->size_bytes, d->sector_size,
                     plan->size_bytes, plan->sector_size);
                return -ESTALE;
        }
        if (disk_has_contents(d) && !o->wipe) {
                if (d->pttype)
                        reason_set(ret_reason, "%s holds a %s partition table with %u partition(s); pass --wipe to erase it",
                             d->path, d->pttype, d->n_parts);
                else
                        reason_set(ret_reason, "%s holds a %s signature; pass --wipe to erase it", d->path, d->fs_type);
                return -EEXIST;
        }
        const struct part_plan *sr = disk_plan_find(plan, PART_SR);
        if (o->keep_sr) {
                const struct disk_part *old = disk_info_sr(d);
                if (!d->is_xenhost || !old) {
                        reason_set(ret_reason, "%s has no xenhost SR to keep", d->path);
                        return -ENOENT;
                }
                if (!sr || !sr->keep || sr->start != old->start || sr->size != old->size) {
                        reason_set(ret_reason, "the plan does not keep the SR of %s where it is", d->path);
                        return -ESTALE;
                }
        } else if (sr && sr->keep) {
                reason_set(ret_reason, "the plan keeps a SR but --keep-sr was not given");
                return -EINVAL;
        }
        return 0;
}

bool device_mapper_available(void) {
        /* The node alone says nothing: libdevmapper creates it on first use
         * whether or not the kernel has the driver (ENODEV on open then). */
        _cleanup_close_ int fd = open("/dev/mapper/control", O_RDWR | O_CLOEXEC);
        return fd >= 0;
}

/* A regular image file gets a loop device for the time of the apply, so that
 * the same block-device path (partition nodes, mkfs, LVM) serves every kind
 * of disk. */

/* Inode tables are zeroed by the kernel after the first mount, not by
 * mke2fs: in an installer that has not loaded ext4 yet, mke2fs would write
 * every inode table of an 18 GiB slot (288 MiB of zeros), which dominated
 * partitioning under emulation. */
#define MKFS_EXT4_EXTENDED "lazy_itable_init=1"
static int loop_attach(int file_fd, char **ret_node, int *ret_fd) {
        _cleanup_close_ int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
        if (ctl < 0)
                return negative_errno();
        for (int attempt = 0; attempt < 16; attempt++) {
                int n = ioctl(ctl, LOOP_CTL_GET_FREE);
                if (n < 0)
                        return negative_errno();
                char node[32];
                snprintf(node, sizeof node, "/dev/loop%d", n);
                _cleanup_close_ int fd = open(node, O_RDWR | O_CLOEXEC);
                if (fd < 0)
                        return negative_errno();
                struct loop_config cfg = {
                        .fd = (uint32_t) file_fd,
                        .block_size = 512,
                        .info = {.lo_flags = LO_FLAGS_PARTSCAN | LO_FLAGS_AUTOCLEAR},
                };
                if (ioctl(fd, LOOP_CONFIGURE, &cfg) < 0) {
                        if (errno == EBUSY) /* raced with another user */
                                continue;
                        return negative_errno();
                }
                *ret_node = strdup(node);
                if (!*ret_node) {
                        ioctl(fd, LOOP_CLR_FD, 0);
                        return -ENOMEM;
                }
                *ret_fd = TAKE_FD(fd);
                return 0;
        }
        return -EBUSY;
}

static int wipe_signatures(const char *node, bool partitions_too) {
        _cleanup_close_ int fd = open(node, O_RDWR | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        blkid_probe pr = blkid_new_probe();
        if (!pr)
                return -ENOMEM;
        int r = 0;
        if (blkid_probe_set_device(pr, fd, 0, 0) < 0) {
                r = -EIO;
                goto out;
        }
        blkid_probe_enable_superblocks(pr, 1);
        blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_MAGIC | BLKID_SUBLKS_BADCSUM);
        blkid_probe_enable_partitions(pr, partitions_too);
        blkid_probe_set_partitions_flags(pr, BLKID_PARTS_MAGIC | BLKID_PARTS_FORCE_GPT);
        /* As wipefs -a does: probe, erase what was found, probe again. */
        while (blkid_do_probe(pr) == 0) {
                const char *type = NULL;
                if (blkid_probe_lookup_value(pr, "TYPE", &type, NULL) < 0)
                        blkid_probe_lookup_value(pr, "PTTYPE", &type, NULL);
                log_debug("Erasing %s signature on %s", type ? type : "unknown", node);
                if (blkid_do_wipe(pr, 0) < 0) {
                        r = -EIO;
                        break;
                }
        }
        if (r == 0 && fsync(fd) < 0)
                r = negative_errno();
out:
        blkid_free_probe(pr);
        return r;
}

static PedPartitionFlag flag_for(enum part_role role) {
        switch (role) {
        case PART_BIOS: return PED_PARTITION_BIOS_GRUB;
        case PART_ESP: return PED_PARTITION_ESP;
        case PART_SWAP: return PED_PARTITION_SWAP;
        case PART_SR: return PED_PARTITION_LVM;
        default: return 0;
        }
}

static int write_table_parted(const char *node, const struct disk_plan *plan, bool keep_sr, char **ret_reason) {
        PedDevice *dev = ped_device_get(node);
        PedDisk *disk = NULL;
        int r = -EIO;

        if (!dev) {
                reason_set(ret_reason, "libparted cannot open %s: %s", node, parted_last_error());
                return -EIO;
        }
        if (keep_sr) {
                /* Rewrite every entry but the SR's, which stays as it is. */
                disk = ped_disk_new(dev);
                if (!disk) {
                        reason_set(ret_reason, "cannot read the partition table of %s: %s", node, parted_last_error());
                        goto out;
                }
                for (int n = ped_disk_get_last_partition_num(disk); n >= 1; n--) {
                        PedPartition *p = ped_disk_get_partition(disk, n);
                        if (p && (unsigned) n != part_specs[PART_SR].number && !ped_disk_delete_partition(disk, p)) {
                                reason_set(ret_reason, "cannot remove partition %d of %s: %s", n, node, parted_last_error());
                                goto out;
                        }
                }
        } else {
                disk = ped_disk_new_fresh(dev, ped_disk_type_get("gpt"));
                if (!disk) {
                        reason_set(ret_reason, "cannot create a GPT on %s: %s", node, parted_last_error());
                        goto out;
                }
        }

        for (size_t i = 0; i < plan->n_parts; i++) {
                const struct part_plan *pp = &plan->parts[i];
                if (pp->keep)
                        continue;
                PedPartition *part = ped_partition_new(disk, PED_PARTITION_NORMAL, NULL, (PedSector) pp->start,
                                                       (PedSector) (pp->start + pp->size - 1));
                if (!part) {
                        reason_set(ret_reason, "cannot create partition %s: %s", pp->spec->name, parted_last_error());
                        goto out;
                }
                /* libparted keeps a number that is set before adding, which
                 * gives the SR number 7 in the compact layout too. */
                part->num = (int) pp->spec->number;
                PedConstraint *exact = ped_constraint_exact(&part->geom);
                bool ok = ped_disk_add_partition(disk, part, exact);
                ped_constraint_destroy(exact);
                if (!ok) {
                        ped_partition_destroy(part);
                        reason_set(ret_reason, "cannot add partition %s: %s", pp->spec->name, parted_last_error());
                        goto out;
                }
                if (!ped_partition_set_name(part, pp->spec->name)) {
                        reason_set(ret_reason, "cannot name partition %s: %s", pp->spec->name, parted_last_error());
                        goto out;
                }
                PedPartitionFlag f = flag_for(pp->spec->role);
                if (f && !ped_partition_set_flag(part, f, 1)) {
                        reason_set(ret_reason, "cannot flag partition %s: %s", pp->spec->name, parted_last_error());
                        goto out;
                }
        }
        /* Only to the disk: libparted's own kernel update waits for udev to
         * settle, and udev waits for our lock on the disk to go: a deadlock
         * until a timeout. sync_kernel_partitions() tells the kernel instead. */
        if (!ped_disk_commit_to_dev(disk)) {
                reason_set(ret_reason, "cannot write the partition table of %s: %s", node, parted_last_error());
                goto out;
        }
        r = 0;
out:
        if (disk)
                ped_disk_destroy(disk);
        ped_device_destroy(dev);
        return r;
}

/* libparted 3.5 cannot set arbitrary type GUIDs (the Linux root x86-64 type
 * of the slots); libfdisk, from the same util-linux as libblkid, sets each
 * one and rewrites both GPT copies with fresh CRCs. */
static int set_type_guids(const char *node, const struct disk_plan *plan, char **ret_reason) {
        struct fdisk_context *cxt = fdisk_new_context();
        int r;

        if (!cxt)
                return -ENOMEM;
        r = fdisk_assign_device(cxt, node, 0);
        if (r < 0) {
                reason_set(ret_reason, "libfdisk cannot open %s: %s", node, strerror(-r));
                goto out;
        }
        struct fdisk_label *lb = fdisk_get_label(cxt, "gpt");
        for (size_t i = 0; i < plan->n_parts && r >= 0; i++) {
                const struct part_plan *pp = &plan->parts[i];
                if (pp->keep)
                        continue;
                struct fdisk_parttype *t = fdisk_label_parse_parttype(lb, pp->spec->type_guid);
                if (!t) {
                        r = -EINVAL;
                        break;
                }
                r = fdisk_set_partition_type(cxt, pp->spec->number - 1, t);
                fdisk_unref_parttype(t);
        }
        if (r >= 0)
                r = fdisk_write_disklabel(cxt);
        if (r < 0)
                reason_set(ret_reason, "cannot set partition types on %s: %s", node, strerror(-r));
        fdisk_deassign_device(cxt, 0);
out:
        fdisk_unref_context(cxt);
        return r < 0 ? r : 0;
}

static int blkpg(int fd, int op, unsigned number, uint64_t start, uint64_t length) {
        struct blkpg_partition p = {.start = (long long) start, .length = (long long) length, .pno = (int) number};
        struct blkpg_ioctl_arg a = {.op = op, .datalen = sizeof p, .data = &p};
        return ioctl(fd, BLKPG, &a) < 0 ? -errno : 0;
}

/* The kernel's partitions of the disk after the table was written: each
 * planned partition exists with its geometry, every other one is gone. A
 * kept partition the kernel already has at the same place is left alone
 * (it may be in use). */
static int sync_kernel_partitions(const char *node, const struct disk_plan *plan, char **ret_reason) {
        _cleanup_close_ int fd = open(node, O_RDONLY | O_CLOEXEC);
        const char *name = strrchr(node, '/') ? strrchr(node, '/') + 1 : node;
        if (fd < 0)
                return reason_set(ret_reason, "cannot open %s: %s", node, strerror(errno)), -errno;
        for (unsigned n = 1; n <= DISK_MAX_PARTS; n++) {
                const struct part_plan *want = NULL;
                for (size_t i = 0; i < plan->n_parts; i++)
                        if (plan->parts[i].spec->number == n)
                                want = &plan->parts[i];
                uint64_t start = want ? want->start * plan->sector_size : 0;
                uint64_t len = want ? want->size * plan->sector_size : 0;

                /* What the kernel has now, from sysfs (in 512-byte units). */
                _cleanup_free_ char *pn = NULL, *sys = NULL, *txt = NULL;
                bool has = false, same = false;
                if (partition_node_name(name, n, &pn) >= 0 && asprintf(&sys, "/sys/class/block/%s/start", pn) >= 0 &&
                    read_full_file(sys, &txt, NULL) >= 0) {
                        _cleanup_free_ char *sz = NULL, *sztxt = NULL;
                        has = true;
                        if (want && asprintf(&sz, "/sys/class/block/%s/size", pn) >= 0 &&
                            read_full_file(sz, &sztxt, NULL) >= 0)
                                same = strtoull(txt, NULL, 10) * 512 == start && strtoull(sztxt, NULL, 10) * 512 == len;
                }
                if (same)
                        continue;
                if (has) {
                        int r = blkpg(fd, BLKPG_DEL_PARTITION, n, 0, 0);
                        if (r < 0 && r != -ENXIO)
                                return reason_set(ret_reason, "the kernel cannot drop partition %u of %s (in use?): %s", n,
                                            node, strerror(-r)), r;
                }
                if (want) {
                        int r = blkpg(fd, BLKPG_ADD_PARTITION, n, start, len);
                        if (r < 0)
                                return reason_set(ret_reason, "the kernel cannot add partition %u of %s: %s", n, node,
                                            strerror(-r)), r;
                }
        }
        return 0;
}

static int wait_for_node(const char *node) {
        for (int i = 0; i < 200; i++) {
                struct stat st;
                if (stat(node, &st) == 0 && S_ISBLK(st.st_mode))
                        return 0;
                nanosleep(&(struct timespec){.tv_nsec = 50 * 1000 * 1000}, NULL);
        }
        return -ETIMEDOUT;
}

static int run_tool(char **ret_reason, const char *what, const char *const *argv) {
        int r = spawn_run(argv, NULL);
        if (r < 0)
                reason_set(ret_reason, "%s: %s", what, spawn_last_error());
        return r;
}

static const char *const LVM_CONFIG =
        "devices { obtain_device_list_from_udev=0 } activation { udev_sync=0 udev_rules=0 }";

static int make_filesystem(const struct part_plan *pp, const char *pnode, const struct apply_options *o,
                           struct apply_result *res, char **ret_reason) {
        _cleanup_free_ char *what = NULL;
        if (asprintf(&what, "cannot create %s on %s (%s)", fs_kind_to_string(pp->spec->fs), pnode,
                     pp->spec->name) < 0)
                return -ENOMEM;

        switch (pp->spec->fs) {
        case FS_NONE:
                return 0;
        case FS_VFAT:
                return run_tool(ret_reason, what,
                                (const char *[]){"mkfs.fat", "-F", "32", "-n", pp->spec->fs_label, pnode, NULL});
        case FS_EXT4:
                return run_tool(ret_reason, what,
                                (const char *[]){"mkfs.ext4", "-q", "-F", "-E", MKFS_EXT4_EXTENDED, "-L",
                                                 pp->spec->fs_label, pnode, NULL});
        case FS_SWAP:
                return run_tool(ret_reason, what,
                                (const char *[]){"mkswap", "-L", pp->spec->fs_label, pnode, NULL});
        case FS_LVM: {
                char vg[64], lv[64], lvpath[160];
                snprintf(vg, sizeof vg, "VG_XenStorage-%s", res->sr_uuid);
                snprintf(res->sr_vg, sizeof res->sr_vg, "%s", vg);
                int r = run_tool(ret_reason, what,
                                 (const char *[]){"pvcreate", "--config", LVM_CONFIG, "-ff", "-y", pnode, NULL});
                if (r < 0)
                        return r;
                r = run_tool(ret_reason, what,
                             (const char *[]){"vgcreate", "--config", LVM_CONFIG, "-y", vg, pnode, NULL});
                if (r < 0)
                        return r;
                if (o->sr_type == SR_LVM) {
                        res->sr_complete = true;
                        return 0;
                }
                if (!device_mapper_available()) {
                        log_warning("device-mapper is not available here: the ext SR's logical volume was not "
                                    "created (the installer creates it on the host)");
                        return 0;
                }
                snprintf(lv, sizeof lv, "XSLocalEXT-%s", res->sr_uuid);
                snprintf(lvpath, sizeof lvpath, "/dev/%s/%s", vg, lv);
                r = run_tool(ret_reason, what,
                             (const char *[]){"lvcreate", "--config", LVM_CONFIG, "-y", "-W", "y", "-l", "100%FREE",
                                              "-n", lv, vg, NULL});
                if (r >= 0)
                        r = wait_for_node(lvpath);
                if (r >= 0)
                        r = run_tool(ret_reason, what,
                                     (const char *[]){"mkfs.ext4", "-q", "-F", "-E", MKFS_EXT4_EXTENDED, "-L",
                                                      "xh-sr-ext", lvpath, NULL});
                /* Leave the VG inactive; first boot activates the SR. */
                if (r >= 0)
                        r = run_tool(ret_reason, what,
                                     (const char *[]){"vgchange", "--config", LVM_CONFIG, "-an", vg, NULL});
                if (r >= 0)
                        res->sr_complete = true;
                return r;
        }
        default:
                return -EINVAL;
        }
}

int disk_plan_apply(const char *path, const struct disk_plan *plan, const struct apply_options *o,
                    struct apply_result *ret, char **ret_reason) {
        _cleanup_(disk_info_freep) struct disk_info *d = NULL;
        _cleanup_free_ char *loop_node = NULL;
        _cleanup_close_ int fd = -1, loop_fd = -1;
        struct apply_result res = {};
        const char *node;
        int r;

        parted_setup();

        /* Open and lock before probing so that what we check is what we
         * write: udev and other partitioners honour this lock. */
        fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0) {
                r = negative_errno();
                reason_set(ret_reason, "cannot open %s: %s", path, strerror(-r));
                return r;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                r = negative_errno();
                reason_set(ret_reason, "%s is locked by another program (%s)", path, strerror(-r));
                return r;
        }
        r = disk_probe(path, &d);
        if (r < 0) {
                reason_set(ret_reason, "cannot probe %s: %s", path, strerror(-r));
                return r;
        }
        r = disk_check_writable(d, ret_reason);
        if (r < 0)
                return r;
        r = disk_plan_check(d, plan, o, ret_reason);
        if (r < 0)
                return r;
        if (d->is_block) {
                /* O_EXCL fails while anything on the disk is mounted or held,
                 * the SR's VG included: refuse rather than pull a disk from
                 * under a user. */
                int ex = open(d->node, O_RDONLY | O_EXCL | O_CLOEXEC);
                if (ex < 0) {
                        r = negative_errno();
                        reason_set(ret_reason, "%s is in use (mounted, swap or an active volume group): %s", path,
                             strerror(-r));
                        return r;
                }
                close(ex);
        }

        if (o->keep_sr) {
                snprintf(res.sr_vg, sizeof res.sr_vg, "%s", d->sr_vg ? d->sr_vg : "");
                snprintf(res.sr_uuid, sizeof res.sr_uuid, "%s", d->sr_uuid ? d->sr_uuid : "");
                res.sr_kept = true;
                res.sr_complete = true;
        } else if (o->sr_uuid) {
                uuid_t u;
                if (uuid_parse(o->sr_uuid, u) < 0) {
                        reason_set(ret_reason, "'%s' is not a UUID", o->sr_uuid);
                        return -EINVAL;
                }
                uuid_unparse_lower(u, res.sr_uuid);
        } else {
                uuid_t u;
                uuid_generate_random(u);
                uuid_unparse_lower(u, res.sr_uuid);
        }

        if (d->is_block)
                node = d->node;
        else {
                r = loop_attach(fd, &loop_node, &loop_fd);
                if (r < 0) {
                        reason_set(ret_reason, "cannot attach a loop device to %s: %s", path, strerror(-r));
                        return r;
                }
                node = loop_node;
                log_debug("Attached %s to %s", path, node);
                /* A loop device attached since the probe would write the
                 * file behind ours: the same refusal, now that only ours may
                 * be there. */
                struct stat st;
                _cleanup_strv_free_ char **others = NULL;
                if (fstat(fd, &st) < 0) {
                        r = negative_errno();
                        reason_set(ret_reason, "cannot stat %s: %s", path, strerror(-r));
                        goto out;
                }
                r = loop_devices_backed_by(st.st_dev, st.st_ino, loop_node, &others);
                if (r < 0) {
                        reason_set(ret_reason, "cannot list the loop devices of %s: %s", path, strerror(-r));
                        goto out;
                }
                if (r > 0) {
                        reason_set(ret_reason, "%s was attached to loop device %s%s while it was being checked: "
                                   "detach it first (losetup -d)", path, others[0], others[1] ? " and others" : "");
                        r = -EBUSY;
                        goto out;
                }
        }

        /* From here on the disk is written. */
        log_debug("Writing %s (%s layout)", node, layout_kind_to_string(plan->layout));
        if (!o->keep_sr) {
                r = wipe_signatures(node, true);
                if (r < 0) {
                        reason_set(ret_reason, "cannot erase the old signatures on %s: %s", path, strerror(-r));
                        goto out;
                }
        }
        r = write_table_parted(node, plan, o->keep_sr, ret_reason);
        if (r < 0)
                goto out;
        r = set_type_guids(node, plan, ret_reason);
        if (r < 0)
                goto out;
        r = sync_kernel_partitions(node, plan, ret_reason);
        if (r < 0)
                goto out;

        for (size_t i = 0; i < plan->n_parts; i++) {
                const struct part_plan *pp = &plan->parts[i];
                _cleanup_free_ char *pnode = NULL;

                if (pp->keep)
                        continue;
                r = partition_node_name(node, pp->spec->number, &pnode);
                if (r < 0)
                        goto out;
                r = wait_for_node(pnode);
                if (r < 0) {
                        reason_set(ret_reason, "partition node %s did not appear", pnode);
                        goto out;
                }
                /* Old filesystems inside the new partition's range would
                 * confuse blkid and mkfs; erase them first. */
                r = wipe_signatures(pnode, false);
                if (r < 0) {
                        reason_set(ret_reason, "cannot erase old signatures on %s: %s", pnode, strerror(-r));
                        goto out;
                }
                if (o->fill_later & (1u << pp->spec->role))
                        continue;
                if (pp->spec->fs != FS_NONE)
                        log_info("Creating %s on %s (%s)", fs_kind_to_string(pp->spec->fs), pnode, pp->spec->name);
                r = make_filesystem(pp, pnode, o, &res, ret_reason);
                if (r < 0)
                        goto out;
        }
        if (fsync(loop_fd >= 0 ? loop_fd : fd) < 0 || fsync(fd) < 0) {
                r = negative_errno();
                reason_set(ret_reason, "cannot flush %s: %s", path, strerror(-r));
                goto out;
        }
        if (ret)
                *ret = res;
        r = 0;
out:
        if (loop_fd >= 0)
                ioctl(loop_fd, LOOP_CLR_FD, 0);
        return r;
}
