/* Disk probing with libparted (geometry) and libblkid (contents). */
#include "disk.h"

#include <blkid.h>
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <linux/major.h>
#include <parted/parted.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "fileio.h"
#include "format.h"
#include "log.h"
#include "macro.h"

static char parted_error[512];

static PedExceptionOption parted_exception_handler(PedException *ex) {
        log_debug("libparted: %s: %s", ped_exception_get_type_string(ex->type), ex->message);
        if (ex->type >= PED_EXCEPTION_ERROR)
                snprintf(parted_error, sizeof parted_error, "%s", ex->message);
        /* Never ask: "fix" a backup GPT that is not at the end of a grown
         * disk, otherwise ignore warnings and cancel on errors. */
        if (ex->options & PED_EXCEPTION_FIX)
                return PED_EXCEPTION_FIX;
        if (ex->type < PED_EXCEPTION_ERROR && (ex->options & PED_EXCEPTION_IGNORE))
                return PED_EXCEPTION_IGNORE;
        if (ex->options & PED_EXCEPTION_CANCEL)
                return PED_EXCEPTION_CANCEL;
        return PED_EXCEPTION_UNHANDLED;
}

void parted_setup(void) {
        static bool done;
        if (done)
                return;
        ped_exception_set_handler(parted_exception_handler);
        done = true;
}

const char *parted_last_error(void) {
        return parted_error[0] ? parted_error : "unknown libparted error";
}

void disk_info_free(struct disk_info *d) {
        if (!d)
                return;
        for (unsigned i = 0; i < d->n_parts; i++) {
                struct disk_part *p = &d->parts[i];
                free(p->name);
                free(p->type_guid);
                free(p->part_uuid);
                free(p->fs_type);
                free(p->fs_label);
                free(p->fs_uuid);
        }
        free(d->path);
        free(d->node);
        free(d->model);
        free(d->pttype);
        free(d->disk_uuid);
        free(d->fs_type);
        free(d->sr_vg);
        free(d->sr_uuid);
        strv_free(d->loop_devices);
        free(d);
}

/* ---- loop devices ------------------------------------------------------- */

/* The backing file of the loop device NAME ("loop3"): the device and inode
 * the kernel holds, from LOOP_GET_STATUS64. Where the node cannot be
 * opened, the path sysfs shows is looked at instead (it may have been
 * renamed or removed since; the inode is what counts). -ENXIO: not
 * attached. */
static int loop_backing(const char *name, dev_t *ret_dev, ino_t *ret_ino) {
        _cleanup_free_ char *sys = NULL, *node = NULL, *path = NULL;
        struct stat st;

        if (asprintf(&sys, "/sys/block/%s/loop/backing_file", name) < 0 || asprintf(&node, "/dev/%s", name) < 0)
                return -ENOMEM;
        if (access(sys, F_OK) < 0)
                return -ENXIO;
        _cleanup_close_ int fd = open(node, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd >= 0) {
                struct loop_info64 info = {};
                if (ioctl(fd, LOOP_GET_STATUS64, &info) < 0)
                        return negative_errno();
                /* lo_device is the kernel's "huge" encoding of the dev_t. */
                uint64_t v = info.lo_device;
                *ret_dev = makedev((unsigned) ((v & 0xfff00) >> 8), (unsigned) ((v & 0xff) | ((v >> 12) & 0xfff00)));
                *ret_ino = (ino_t) info.lo_inode;
                return 0;
        }
        log_debug("Cannot open %s (%m); going by the backing file's path in sysfs", node);
        int r = read_full_file(sys, &path, NULL);
        if (r < 0)
                return r;
        path[strcspn(path, "\n")] = 0;
        if (stat(path, &st) < 0)
                return negative_errno();
        *ret_dev = st.st_dev;
        *ret_ino = st.st_ino;
        return 0;
}

static bool is_loop_name(const char *name) {
        const char *n = startswith(name, "loop");
        return n && *n && strspn(n, "0123456789") == strlen(n);
}

static int loop_name_compare(const struct dirent **a, const struct dirent **b) {
        return strverscmp((*a)->d_name, (*b)->d_name);
}

int loop_devices_backed_by(dev_t dev, ino_t ino, const char *except, char ***ret) {
        struct dirent **names = NULL;
        char **l = NULL;
        size_t n_found = 0;
        int r = 0;

        int n = scandir("/sys/block", &names, NULL, loop_name_compare);
        if (n < 0)
                return log_debug_errno(negative_errno(), "Cannot list /sys/block: %m");
        for (int i = 0; i < n; i++) {
                const char *name = names[i]->d_name;
                dev_t bdev;
                ino_t bino;
                char node[300];

                if (r < 0 || !is_loop_name(name))
                        continue;
                snprintf(node, sizeof node, "/dev/%s", name);
                if (except && streq(node, except))
                        continue;
                int k = loop_backing(name, &bdev, &bino);
                if (k == -ENOMEM)
                        r = k;
                if (k < 0 || bdev != dev || bino != ino)
                        continue;
                char **nl = reallocarray(l, n_found + 2, sizeof(char *));
                if (!nl || !(nl[n_found] = strdup(node))) {
                        l = nl ?: l;
                        r = -ENOMEM;
                        continue;
                }
                nl[++n_found] = NULL;
                l = nl;
        }
        for (int i = 0; i < n; i++)
                free(names[i]);
        free(names);
        if (r < 0) {
                strv_free(l);
                return r;
        }
        *ret = l;
        return (int) n_found;
}

/* What may write to the disk besides us, and whether we may write it. */
static int probe_use(struct disk_info *d, int fd, const struct stat *st) {
        if (d->is_block) {
                int ro = 0;
                if (ioctl(fd, BLKROGET, &ro) < 0)
                        return negative_errno();
                d->read_only = ro != 0;
        } else if (faccessat(AT_FDCWD, d->node, W_OK, AT_EACCESS) < 0) {
                d->read_only = true;
                d->read_only_error = negative_errno();
        }

        dev_t dev = st->st_dev;
        ino_t ino = st->st_ino;
        if (d->is_block) {
                const char *name = strrchr(d->node, '/') ? strrchr(d->node, '/') + 1 : d->node;
                if (major(st->st_rdev) != LOOP_MAJOR || !is_loop_name(name))
                        return 0;
                int r = loop_backing(name, &dev, &ino);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return 0; /* not attached: libparted saw no size either */
        }
        int r = loop_devices_backed_by(dev, ino, d->is_block ? d->node : NULL, &d->loop_devices);
        return r == -ENOMEM ? r : 0;
}

int disk_check_writable(const struct disk_info *d, char **ret_reason) {
        if (d->read_only) {
                if (d->is_block)
                        reason_set(ret_reason, "%s is a read-only device: nothing can be written to it", d->path);
                else
                        reason_set(ret_reason, "%s cannot be opened for writing (%s): nothing can be written to it",
                                   d->path, strerror(-d->read_only_error));
                return -EROFS;
        }
        if (d->loop_devices) {
                size_t len = 0, n = 0;
                for (char **l = d->loop_devices; *l; l++, n++)
                        len += strlen(*l) + 2;
                _cleanup_free_ char *list = calloc(1, len + 1);
                if (!list)
                        return -ENOMEM;
                for (char **l = d->loop_devices; *l; l++) {
                        if (l != d->loop_devices)
                                strcat(list, ", ");
                        strcat(list, *l);
                }
                if (d->is_block)
                        reason_set(ret_reason, "the file behind %s is also attached to loop device%s %s, which may be "
                                   "mounted: detach %s first", d->path, n == 1 ? "" : "s", list,
                                   n == 1 ? "it" : "them");
                else
                        reason_set(ret_reason, "%s is attached to loop device%s %s, which may be mounted: detach %s "
                                   "first (losetup -d)", d->path, n == 1 ? "" : "s", list, n == 1 ? "it" : "them");
                return -EBUSY;
        }
        /* libparted writes an image file with 512-byte sectors: a table for
         * 4096-byte sectors would come out at the wrong offsets. */
        if (!d->is_block && d->sector_size != 512) {
                reason_set(ret_reason, "%s is the image of a disk with %" PRIu32 "-byte sectors; an image file is "
                           "written with 512-byte sectors: attach it with 'losetup -b %" PRIu32 "' and use the loop "
                           "device", d->path, d->sector_size, d->sector_size);
                return -EMEDIUMTYPE;
        }
        return 0;
}

DEFINE_CLEANUP(struct blkid_struct_probe, blkid_free_probe)

static char *strdup_upper(const char *s) {
        char *r = s ? strdup(s) : NULL;
        for (char *p = r; p && *p; p++)
                *p = (char) toupper((unsigned char) *p);
        return r;
}

static char *probe_value(blkid_probe pr, const char *name) {
        const char *v = NULL;
        if (blkid_probe_lookup_value(pr, name, &v, NULL) < 0 || !v)
                return NULL;
        return strdup(v);
}

/* Reads the LVM text metadata at the start of a PV to find the VG name.
 * The metadata area of a PV made by pvcreate starts within its first MiB;
 * the newest copy of the metadata begins with "<vgname> {". */
static int read_sr_vg(int fd, uint64_t offset, char **ret_vg) {
        _cleanup_free_ char *buf = malloc(MiB + 1);
        if (!buf)
                return -ENOMEM;
        ssize_t n = pread(fd, buf, MiB, (off_t) offset);
        if (n <= 0)
                return -EIO;
        buf[n] = 0;
        for (ssize_t i = 0; i + 14 < n; i++) {
                if (memcmp(buf + i, "VG_XenStorage-", 14) != 0)
                        continue;
                size_t l = 14;
                while (i + (ssize_t) l < n && (isxdigit((unsigned char) buf[i + l]) || buf[i + l] == '-'))
                        l++;
                if (l < 14 + 36 || i + (ssize_t) l + 2 > n || memcmp(buf + i + l, " {", 2) != 0)
                        continue;
                *ret_vg = strndup(buf + i, l);
                return *ret_vg ? 0 : -ENOMEM;
        }
        return -ENOENT;
}

static int probe_geometry(struct disk_info *d) {
        PedDevice *dev;

        parted_setup();
        dev = ped_device_get(d->node);
        if (!dev)
                return log_debug_errno(-ENODEV, "libparted cannot open %s: %s", d->node, parted_last_error());
        d->size_bytes = (uint64_t) dev->length * (uint64_t) dev->sector_size;
        d->sector_size = (uint32_t) dev->sector_size;
        d->physical_sector_size = (uint32_t) dev->phys_sector_size;
        if (dev->model && *dev->model)
                d->model = strdup(dev->model);
        ped_device_destroy(dev);
        return 0;
}

/* An image file has no sector size of its own, and libparted takes it to
 * have 512-byte sectors. A GPT header ("EFI PART", its own LBA 1) at byte
 * 4096 and none at byte 512 says the file is the image of a 4Kn disk. */
static bool gpt_header_at(int fd, uint32_t sector_size) {
        uint8_t h[92];
        uint64_t my_lba;
        if (pread(fd, h, sizeof h, (off_t) sector_size) != (ssize_t) sizeof h || memcmp(h, "EFI PART", 8) != 0)
                return false;
        memcpy(&my_lba, h + 24, sizeof my_lba);
        return le64toh(my_lba) == 1;
}

static void probe_image_sector_size(struct disk_info *d, int fd) {
        if (d->is_block || d->sector_size != 512 || gpt_header_at(fd, 512) || !gpt_header_at(fd, 4096))
                return;
        log_debug("%s: GPT at byte 4096 and none at 512: an image of a disk with 4096-byte sectors", d->node);
        d->sector_size = 4096;
        if (d->physical_sector_size < 4096)
                d->physical_sector_size = 4096;
}

static int probe_partition_contents(int fd, struct disk_part *p, uint32_t sector_size) {
        _cleanup_(blkid_free_probep) blkid_probe pr = blkid_new_probe();
        if (!pr)
                return -ENOMEM;
        if (blkid_probe_set_device(pr, fd, (blkid_loff_t) (p->start * sector_size),
                                   (blkid_loff_t) (p->size * sector_size)) < 0)
                return -EIO;
        blkid_probe_enable_superblocks(pr, 1);
        blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_LABEL | BLKID_SUBLKS_UUID);
        blkid_probe_enable_partitions(pr, 0);
        if (blkid_do_safeprobe(pr) == 0) {
                p->fs_type = probe_value(pr, "TYPE");
                p->fs_label = probe_value(pr, "LABEL");
                p->fs_uuid = probe_value(pr, "UUID");
        }
        return 0;
}

int disk_probe(const char *path, struct disk_info **ret) {
        _cleanup_(disk_info_freep) struct disk_info *d = calloc(1, sizeof *d);
        _cleanup_(blkid_free_probep) blkid_probe pr = NULL;
        _cleanup_close_ int fd = -1;
        struct stat st;
        int r;

        if (!d)
                return -ENOMEM;
        d->path = strdup(path);
        d->node = realpath(path, NULL);
        if (!d->path || !d->node)
                return negative_errno();
        if (stat(d->node, &st) < 0)
                return negative_errno();
        if (!S_ISBLK(st.st_mode) && !S_ISREG(st.st_mode))
                return -ENOTBLK;
        d->is_block = S_ISBLK(st.st_mode);
        d->layout = LAYOUT_AUTO;

        r = probe_geometry(d);
        if (r < 0)
                return r;

        fd = open(d->node, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        r = probe_use(d, fd, &st);
        if (r < 0)
                return r;
        probe_image_sector_size(d, fd);
        pr = blkid_new_probe();
        if (!pr)
                return -ENOMEM;
        if (blkid_probe_set_device(pr, fd, 0, 0) < 0 || blkid_probe_set_sectorsize(pr, d->sector_size) < 0)
                return -EIO;
        blkid_probe_enable_superblocks(pr, 1);
        blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE);
        blkid_probe_enable_partitions(pr, 1);
        blkid_probe_set_partitions_flags(pr, BLKID_PARTS_ENTRY_DETAILS);
        /* Partition tables and filesystem signatures both count as content;
         * blkid reports an ambivalent result (e.g. a table *and* an old
         * filesystem) as -2, which is content too. */
        r = blkid_do_safeprobe(pr);
        if (r == 0) {
                d->pttype = probe_value(pr, "PTTYPE");
                d->fs_type = probe_value(pr, "TYPE");
                d->disk_uuid = probe_value(pr, "PTUUID");
        } else if (r == -2)
                d->fs_type = strdup("ambivalent");

        blkid_partlist pl = d->pttype ? blkid_probe_get_partitions(pr) : NULL;
        int n = pl ? blkid_partlist_numof_partitions(pl) : 0;
        for (int i = 0; i < n && d->n_parts < DISK_MAX_PARTS; i++) {
                blkid_partition par = blkid_partlist_get_partition(pl, i);
                struct disk_part *p = &d->parts[d->n_parts++];
                /* libblkid counts partition geometry in 512-byte sectors. */
                p->number = (unsigned) blkid_partition_get_partno(par);
                p->start = (uint64_t) blkid_partition_get_start(par) * 512 / d->sector_size;
                p->size = (uint64_t) blkid_partition_get_size(par) * 512 / d->sector_size;
                if (blkid_partition_get_name(par))
                        p->name = strdup(blkid_partition_get_name(par));
                p->type_guid = strdup_upper(blkid_partition_get_type_string(par));
                if (blkid_partition_get_uuid(par))
                        p->part_uuid = strdup(blkid_partition_get_uuid(par));
                r = probe_partition_contents(fd, p, d->sector_size);
                if (r < 0)
                        return r;
                const struct part_spec *s = part_spec_by_name(p->name);
                if (s && s->number == p->number)
                        p->spec = s;
        }

        /* A xenhost disk: GPT with our partitions under our numbers. */
        if (streq_ptr(d->pttype, "gpt")) {
                bool all = true;
                for (enum part_role role = 0; role < _PART_ROLE_MAX; role++) {
                        if (role == PART_LOGS || role == PART_SWAP)
                                continue;
                        const struct disk_part *p = disk_info_find(d, part_specs[role].number);
                        if (!p || p->spec != &part_specs[role])
                                all = false;
                }
                d->is_xenhost = all;
                if (all) {
                        const struct disk_part *logs = disk_info_find(d, part_specs[PART_LOGS].number);
                        d->layout = logs && logs->spec ? LAYOUT_STANDARD : LAYOUT_COMPACT;
                }
        }
        const struct disk_part *sr = disk_info_sr(d);
        if (sr && streq_ptr(sr->fs_type, "LVM2_member") &&
            read_sr_vg(fd, sr->start * d->sector_size, &d->sr_vg) == 0)
                d->sr_uuid = strdup(d->sr_vg + strlen("VG_XenStorage-"));

        *ret = TAKE_PTR(d);
        return 0;
}

bool disk_has_contents(const struct disk_info *d) {
        return d->pttype || d->fs_type;
}

const struct disk_part *disk_info_find(const struct disk_info *d, unsigned number) {
        for (unsigned i = 0; i < d->n_parts; i++)
                if (d->parts[i].number == number)
                        return &d->parts[i];
        return NULL;
}

const struct disk_part *disk_info_sr(const struct disk_info *d) {
        const struct disk_part *p = disk_info_find(d, part_specs[PART_SR].number);
        return p && p->spec ? p : NULL;
}
