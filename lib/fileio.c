/* Atomic writes and whole-file reads. */
#include "fileio.h"

#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <sys/stat.h>

#include "macro.h"

static int write_all(int fd, const void *data, size_t len) {
        const char *p = data;
        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode) {
        _cleanup_free_ char *tmp = NULL, *dircopy = NULL;
        _cleanup_close_ int fd = -1, dfd = -1;
        int r;

        if (asprintf(&tmp, "%s.tmpXXXXXX", path) < 0)
                return -ENOMEM;
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        if (fchmod(fd, mode) < 0) {
                r = negative_errno();
                goto fail;
        }
        r = write_all(fd, data, len);
        if (r < 0)
                goto fail;
        if (fsync(fd) < 0) {
                r = negative_errno();
                goto fail;
        }
        if (rename(tmp, path) < 0) {
                r = negative_errno();
                goto fail;
        }
        dircopy = strdup(path);
        if (!dircopy)
                return -ENOMEM;
        dfd = open(dirname(dircopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0)
                (void) fsync(dfd);
        return 0;
fail:
        unlink(tmp);
        return r;
}

/* Reads FD to its end, at most MAX bytes (-EFBIG past that), into a
 * NUL-terminated buffer; HINT is the expected size (the file's, 0 when
 * unknown: /proc says 0). One byte more than MAX tells a file that is too
 * long from one that is exactly MAX bytes. */
static int read_fd(int fd, size_t max, size_t hint, char **ret, size_t *ret_len) {
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, cap = hint < max ? hint + 4096 : max + 2;

        if (cap > max + 2)
                cap = max + 2;
        buf = malloc(cap);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                if (len + 1 >= cap) {
                        if (cap >= max + 2)
                                return -EFBIG;
                        size_t ncap = cap * 2 < max + 2 ? cap * 2 : max + 2;
                        char *b = realloc(buf, ncap);
                        if (!b)
                                return -ENOMEM;
                        buf = b;
                        cap = ncap;
                }
                ssize_t n = read(fd, buf + len, cap - len - 1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        break;
                len += (size_t) n;
                if (len > max)
                        return -EFBIG;
        }
        buf[len] = 0;
        *ret = TAKE_PTR(buf);
        if (ret_len)
                *ret_len = len;
        return 0;
}

int read_full_file(const char *path, char **ret, size_t *ret_len) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        return read_fd(fd, SIZE_MAX / 2, 0, ret, ret_len);
}

int read_full_file_bounded(const char *path, size_t max, char **ret, size_t *ret_len) {
        _cleanup_close_ int fd = -1;
        struct stat st;

        if (max > SIZE_MAX / 2)
                max = SIZE_MAX / 2;
        /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
         * writer, for ever if none comes. */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return negative_errno();
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        if ((uint64_t) st.st_size > (uint64_t) max)
                return -EFBIG;
        int flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0)
                return negative_errno();
        return read_fd(fd, max, (size_t) st.st_size, ret, ret_len);
}

int sync_file_system(const char *path) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        /* syncfs writes every dirty buffer (on vfat the directory entries
         * of a rename live in the block device's buffers, which an fsync of
         * the file or its directory does not always write); the fsync after
         * it makes the disk flush its write cache, which syncfs alone does
         * not do on a file system without ->sync_fs such as vfat. */
        int r = syncfs(fd) < 0 || fsync(fd) < 0 ? -errno : 0;
        close(fd);
        return r;
}

int mkdir_all(const char *path, mode_t mode) {
        _cleanup_free_ char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++)
                if (*s == '/') {
                        *s = 0;
                        if (mkdir(p, mode) < 0 && errno != EEXIST)
                                return negative_errno();
                        *s = '/';
                }
        return mkdir(p, mode) < 0 && errno != EEXIST ? negative_errno() : 0;
}
