/* The slot writer. An ext4.zst image is an ext4 file system image in one
 * zstd frame: it is decompressed in process and streamed onto the device in
 * big aligned writes by a second thread, so that decompression and I/O
 * overlap; then the file system is grown to the device and given a UUID and
 * a label of its own. A squashfs image (0.1.0) is copied file by file into a
 * fresh ext4. */
#include "slot.h"

#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <uuid/uuid.h>
#include <zstd.h>

#include "format.h"
#include "log.h"
#include "macro.h"
#include "process.h"

#define CHUNK (4 * MiB) /* one write; a multiple of every logical block size */
#define NBUF 4          /* chunks in flight between the decompressor and the writer */
#define IN_CHUNK (1 * MiB)

static int run_step(const char *what, const char *const *argv, char **ret_stdout, char **ret_reason) {
        int r = spawn_run(argv, ret_stdout);
        if (r == -ENOENT)
                return reason_set(ret_reason, "%s: %s is not installed", what, argv[0]), r;
        if (r < 0)
                return reason_set(ret_reason, "%s failed: %s", what, spawn_last_error()), r;
        return 0;
}

static uint64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

struct progress {
        const struct slot_write_options *o;
        uint64_t total, last_ms;
};

static void progress_report(struct progress *p, uint64_t done, bool force) {
        if (!p->o || !p->o->progress)
                return;
        uint64_t t = now_ms();
        if (!force && t - p->last_ms < 250)
                return;
        p->last_ms = t;
        p->o->progress(done, p->total, p->o->userdata);
}

/* Opens DEVICE for writing and returns its size. A block device is opened
 * exclusively (a mounted slot is refused by the kernel) and with O_DIRECT
 * where the device allows it. */
static int open_device(const char *device, int *ret_fd, uint64_t *ret_size, bool *ret_direct, char **ret_reason) {
        struct stat st;
        uint64_t size;
        bool direct = true;

        if (stat(device, &st) < 0)
                return reason_set(ret_reason, "cannot find %s: %m", device), negative_errno();
        if (!S_ISBLK(st.st_mode) && !S_ISREG(st.st_mode))
                return reason_set(ret_reason, "%s is neither a block device nor a file", device), -ENOTBLK;
        int flags = O_WRONLY | O_CLOEXEC | (S_ISBLK(st.st_mode) ? O_EXCL : 0);
        _cleanup_close_ int fd = open(device, flags | O_DIRECT);
        if (fd < 0 && errno == EINVAL) {
                direct = false; /* e.g. a file on tmpfs */
                fd = open(device, flags);
        }
        if (fd < 0)
                return reason_set(ret_reason, "cannot open %s: %m", device), negative_errno();
        if (S_ISBLK(st.st_mode)) {
                if (ioctl(fd, BLKGETSIZE64, &size) < 0)
                        return reason_set(ret_reason, "cannot get the size of %s: %m", device), negative_errno();
        } else
                size = (uint64_t) st.st_size;
        *ret_fd = TAKE_FD(fd);
        *ret_size = size;
        *ret_direct = direct;
        return 0;
}

/* The writer thread takes filled chunks in order and writes them at their
 * offsets; the decompressor fills the next free chunk meanwhile. */
struct writer {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        unsigned char *buf[NBUF];
        size_t len[NBUF];
        unsigned head, tail, count;
        bool finished; /* no more chunks will come */
        int error;     /* first write error, -errno */
        int fd;
        bool direct;
        uint64_t offset; /* of the next chunk to write */
};

static int write_all(struct writer *w, const unsigned char *p, size_t n) {
        /* O_DIRECT needs whole logical blocks: the last, short chunk of an
         * image of odd size goes through the page cache. */
        if (w->direct && n % 4096 != 0) {
                int fl = fcntl(w->fd, F_GETFL);
                if (fl < 0 || fcntl(w->fd, F_SETFL, fl & ~O_DIRECT) < 0)
                        return negative_errno();
                w->direct = false;
        }
        while (n > 0) {
                ssize_t k = pwrite(w->fd, p, n, (off_t) w->offset);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (k == 0)
                        return -EIO;
                p += k;
                n -= (size_t) k;
                w->offset += (uint64_t) k;
        }
        return 0;
}

static void *writer_main(void *userdata) {
        struct writer *w = userdata;
        pthread_mutex_lock(&w->lock);
        for (;;) {
                while (w->count == 0 && !w->finished)
                        pthread_cond_wait(&w->cond, &w->lock);
                if (w->count == 0)
                        break;
                unsigned i = w->tail;
                pthread_mutex_unlock(&w->lock);
                int r = w->error < 0 ? 0 : write_all(w, w->buf[i], w->len[i]);
                pthread_mutex_lock(&w->lock);
                if (r < 0 && w->error == 0)
                        w->error = r;
                w->tail = (w->tail + 1) % NBUF;
                w->count--;
                pthread_cond_broadcast(&w->cond);
        }
        pthread_mutex_unlock(&w->lock);
        return NULL;
}

/* Hands the chunk at HEAD (LEN bytes) to the writer and waits for a free
 * one. Returns the writer's error, if it had one. */
static int writer_submit(struct writer *w, size_t len) {
        pthread_mutex_lock(&w->lock);
        w->len[w->head] = len;
        w->head = (w->head + 1) % NBUF;
        w->count++;
        pthread_cond_broadcast(&w->cond);
        while (w->count == NBUF && w->error == 0)
                pthread_cond_wait(&w->cond, &w->lock);
        int r = w->error;
        pthread_mutex_unlock(&w->lock);
        return r;
}

static int writer_finish(struct writer *w, pthread_t thread) {
        pthread_mutex_lock(&w->lock);
        w->finished = true;
        pthread_cond_broadcast(&w->cond);
        pthread_mutex_unlock(&w->lock);
        pthread_join(thread, NULL);
        return w->error;
}

static void dctx_freep(ZSTD_DCtx **d) {
        ZSTD_freeDCtx(*d);
}

static int write_ext4_zst(const char *image, const char *device, struct progress *pg, char **ret_reason) {
        _cleanup_close_ int in_fd = -1, fd = -1;
        _cleanup_(dctx_freep) ZSTD_DCtx *d = NULL;
        _cleanup_free_ unsigned char *in_buf = NULL;
        struct writer w = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
        uint64_t dev_size, content, total = 0;
        pthread_t thread;
        bool direct;
        int r;

        in_fd = open(image, O_RDONLY | O_CLOEXEC);
        if (in_fd < 0)
                return reason_set(ret_reason, "cannot open %s: %m", image), negative_errno();
        (void) posix_fadvise(in_fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        in_buf = malloc(IN_CHUNK);
        d = ZSTD_createDCtx();
        if (!in_buf || !d)
                return -ENOMEM;
        ssize_t n = pread(in_fd, in_buf, IN_CHUNK, 0);
        if (n < 0)
                return reason_set(ret_reason, "cannot read %s: %m", image), negative_errno();
        /* The frame header says how big the file system image is: check
         * the device before anything on it is touched. */
        content = ZSTD_getFrameContentSize(in_buf, (size_t) n);
        if (content == ZSTD_CONTENTSIZE_ERROR)
                return reason_set(ret_reason, "%s is not a zstd image (short or corrupt)", image), -EBADMSG;
        if (content == ZSTD_CONTENTSIZE_UNKNOWN)
                return reason_set(ret_reason, "%s does not record the size of the file system it holds", image),
                       -EBADMSG;
        r = open_device(device, &fd, &dev_size, &direct, ret_reason);
        if (r < 0)
                return r;
        if (dev_size < content) {
                char a[32], b[32];
                return reason_set(ret_reason, "%s is too small for the host image: %s, the image needs %s", device,
                                  format_iec(a, sizeof a, dev_size), format_iec(b, sizeof b, content)),
                       -ENOSPC;
        }
        log_debug("Writing %s (%" PRIu64 " bytes of ext4) to %s (%" PRIu64 " bytes)%s", image, content, device,
                  dev_size, direct ? " with O_DIRECT" : "");
        pg->total = content;

        for (unsigned i = 0; i < NBUF; i++)
                if (posix_memalign((void **) &w.buf[i], 4096, CHUNK) != 0) {
                        r = -ENOMEM;
                        goto free_bufs;
                }
        w.fd = fd;
        w.direct = direct;
        r = -pthread_create(&thread, NULL, writer_main, &w);
        if (r < 0) {
                reason_set(ret_reason, "cannot start the writer: %s", strerror(-r));
                goto free_bufs;
        }

        ZSTD_inBuffer in = {in_buf, (size_t) n, 0};
        size_t fill = 0, zr;
        bool eof = n == 0, complete = false; /* the last frame ended */
        off_t in_off = n;
        for (;;) {
                if (in.pos == in.size && !eof) {
                        n = pread(in_fd, in_buf, IN_CHUNK, in_off);
                        if (n < 0) {
                                r = negative_errno();
                                reason_set(ret_reason, "cannot read %s: %m", image);
                                break;
                        }
                        in = (ZSTD_inBuffer){in_buf, (size_t) n, 0};
                        in_off += n;
                        eof = n == 0;
                }
                ZSTD_outBuffer out = {w.buf[w.head] + fill, CHUNK - fill, 0};
                size_t in_before = in.pos;
                zr = ZSTD_decompressStream(d, &out, &in);
                if (ZSTD_isError(zr)) {
                        reason_set(ret_reason, "%s is corrupt: %s", image, ZSTD_getErrorName(zr));
                        r = -EBADMSG;
                        break;
                }
                if (zr == 0)
                        complete = true;
                else if (in.pos != in_before || out.pos > 0)
                        complete = false;
                fill += out.pos;
                total += out.pos;
                if (total > content) {
                        reason_set(ret_reason, "%s holds more than its frame header says", image);
                        r = -EBADMSG;
                        break;
                }
                if (fill == CHUNK || (out.pos == 0 && eof && fill > 0)) {
                        r = writer_submit(&w, fill);
                        fill = 0;
                        if (r < 0) {
                                reason_set(ret_reason, "I/O error writing %s: %s", device, strerror(-r));
                                break;
                        }
                        progress_report(pg, total, false);
                        continue;
                }
                if (out.pos == 0 && eof && in.pos == in.size)
                        break;
        }
        int wr = writer_finish(&w, thread);
        if (r >= 0 && wr < 0) {
                reason_set(ret_reason, "I/O error writing %s: %s", device, strerror(-wr));
                r = wr;
        }
        if (r >= 0 && (!complete || total != content)) {
                reason_set(ret_reason, "%s is truncated: it ends after %" PRIu64 " of %" PRIu64 " bytes", image,
                           total, content);
                r = -EBADMSG;
        }
        if (r >= 0 && fsync(fd) < 0) {
                r = negative_errno();
                reason_set(ret_reason, "I/O error writing %s: %s", device, strerror(-r));
        }
        if (r >= 0)
                progress_report(pg, total, true);
free_bufs:
        for (unsigned i = 0; i < NBUF; i++)
                free(w.buf[i]);
        if (r < 0)
                return r;
        if (close(TAKE_FD(fd)) < 0)
                return reason_set(ret_reason, "I/O error writing %s: %m", device), negative_errno();

        /* The file system fills the device; a fresh image needs no e2fsck
         * first (it was never mounted). */
        return run_step("Growing the file system to the slot", (const char *[]){"resize2fs", device, NULL}, NULL,
                        ret_reason);
}

static int mount_tmp(const char *what, const char *source, const char *dir, const char *type, const char *opts,
                     char **ret_reason) {
        return run_step(what, (const char *[]){"mount", "-t", type, "-o", opts, source, dir, NULL}, NULL,
                        ret_reason);
}

/* The 0.1.0 format: a fresh ext4, and the squashfs copied into it. */
static int write_squashfs(const char *image, const struct manifest *m, const char *device, const char *label,
                          const char *fs_uuid, struct progress *pg, char **ret_reason) {
        char src[] = "/tmp/xh-slot-src.XXXXXX", dst[] = "/tmp/xh-slot-dst.XXXXXX";
        _cleanup_free_ char *from = NULL;
        _cleanup_close_ int fd = -1;
        uint64_t dev_size;
        bool direct, src_mounted = false, dst_mounted = false;
        struct stat st;
        int r;

        r = open_device(device, &fd, &dev_size, &direct, ret_reason);
        if (r < 0)
                return r;
        close(TAKE_FD(fd));
        if (dev_size < m->installed_size) {
                char a[32], b[32];
                return reason_set(ret_reason, "%s is too small for the host image: %s, the tree needs %s", device,
                                  format_iec(a, sizeof a, dev_size), format_iec(b, sizeof b, m->installed_size)),
                       -ENOSPC;
        }
        pg->total = m->installed_size;
        r = run_step("Making the slot's file system",
                     (const char *[]){"mkfs.ext4", "-F", "-q", "-L", label, "-U", fs_uuid, device, NULL}, NULL,
                     ret_reason);
        if (r < 0)
                return r;
        if (!mkdtemp(src) || !mkdtemp(dst)) {
                r = negative_errno();
                reason_set(ret_reason, "cannot make a temporary directory: %m");
                goto out;
        }
        if (asprintf(&from, "%s/.", src) < 0) {
                r = -ENOMEM;
                goto out;
        }
        r = mount_tmp("Mounting the host image", image, src, "squashfs", "ro,loop", ret_reason);
        if (r < 0)
                goto out;
        src_mounted = true;
        r = mount_tmp("Mounting the slot", device, dst, "ext4",
                      stat(device, &st) == 0 && S_ISREG(st.st_mode) ? "loop" : "defaults", ret_reason);
        if (r < 0)
                goto out;
        dst_mounted = true;
        r = run_step("Copying the host image into the slot", (const char *[]){"cp", "-a", from, dst, NULL}, NULL,
                     ret_reason);
        if (r < 0)
                goto out;
        /* Unmounting writes everything back; its failure is the slot's. */
        if (umount2(dst, 0) < 0) {
                r = negative_errno();
                reason_set(ret_reason, "cannot unmount the slot %s: %m", device);
                goto out;
        }
        dst_mounted = false;
        progress_report(pg, pg->total, true);
out:
        if (dst_mounted)
                umount2(dst, MNT_DETACH);
        if (src_mounted)
                umount2(src, MNT_DETACH);
        rmdir(src);
        rmdir(dst);
        return r;
}

int slot_write_image(const char *image, const struct manifest *m, const char *device,
                     const struct slot_write_options *o, char ret_fs_uuid[37], char **ret_reason) {
        _cleanup_free_ char *uuid = NULL;
        struct progress pg = {.o = o};
        const char *label = o && o->label ? o->label : "";
        const char *fs_uuid = o ? o->fs_uuid : NULL;
        char new_uuid[37];
        int r;

        /* A UUID made here, not by "tune2fs -U random": that one takes 3 s
         * under emulation, as long as the whole rest of the slot's naming. */
        if (!fs_uuid) {
                uuid_t u;
                uuid_generate_random(u);
                uuid_unparse_lower(u, new_uuid);
                fs_uuid = new_uuid;
        }

        if (strlen(label) > 16)
                return reason_set(ret_reason, "slot label '%s' is longer than 16 bytes", label), -EINVAL;
        switch (m->image_format) {
        case IMAGE_FORMAT_EXT4_ZST:
                r = write_ext4_zst(image, device, &pg, ret_reason);
                if (r < 0)
                        return r;
                /* Instant with metadata_csum_seed: no checksum is rewritten.
                 * Every installed slot gets its own UUID. */
                r = run_step("Naming the slot's file system",
                             (const char *[]){"tune2fs", "-U", fs_uuid, "-L", label, device, NULL}, NULL,
                             ret_reason);
                break;
        case IMAGE_FORMAT_SQUASHFS:
                r = write_squashfs(image, m, device, label, fs_uuid, &pg, ret_reason);
                break;
        default:
                return reason_set(ret_reason, "unknown image format %d", (int) m->image_format), -EINVAL;
        }
        if (r < 0)
                return r;
        r = run_step("Reading the slot's UUID", (const char *[]){"blkid", "-p", "-s", "UUID", "-o", "value", device, NULL},
                     &uuid, ret_reason);
        if (r < 0)
                return r;
        uuid[strcspn(uuid, "\n")] = 0;
        if (strlen(uuid) != 36)
                return reason_set(ret_reason, "%s has no file system UUID after writing", device), -EIO;
        memcpy(ret_fs_uuid, uuid, 37);
        return 0;
}
