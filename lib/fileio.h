/* Reading and atomically writing files: files that matter (grubenv,
 * inventory, manifests, journals) are never left half-written. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Writes LEN bytes to a temporary file next to PATH, fsyncs it, renames it
 * over PATH and fsyncs the directory. PATH is either the old or the new
 * content at every moment. */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* Reads a whole file; the result is NUL-terminated (RET_LEN excludes it). */
int read_full_file(const char *path, char **ret, size_t *ret_len);

/* Like read_full_file() for files that come from elsewhere (answer files,
 * the files naming them): reads at most MAX bytes of a regular file. The
 * open never blocks (O_NONBLOCK): a FIFO, a device or a socket is refused
 * before anything is read, since a FIFO waits for a writer and /dev/zero
 * never ends. Returns -EISDIR for a directory, -EBADFD for any other file
 * that is not a regular file, -EFBIG when the file holds more than MAX bytes
 * (by its size or by what a read returned: /proc files say 0), other -errno
 * from open() and read(). */
int read_full_file_bounded(const char *path, size_t max, char **ret, size_t *ret_len);

/* syncfs() of the file system that holds PATH, then a flush of the disk's
 * write cache: everything written to it is on the disk when this returns.
 * For the ESP: on vfat a renamed file with an fsync of it and of its
 * directory did not survive a power cut (QEMU, writeback cache). */
int sync_file_system(const char *path);

/* mkdir -p: PATH and every missing parent, with MODE; existing ones are
 * fine. */
int mkdir_all(const char *path, mode_t mode);
