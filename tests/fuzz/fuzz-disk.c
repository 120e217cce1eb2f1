/* The partition-table probe: disk_probe() (libparted's geometry, libblkid's
 * partition table and signatures, the xenhost layout and the SR's volume
 * group read from the disk) on a 4 MiB sparse image file. The first
 * FUZZ_DISK_HEAD bytes of the input are the start of the disk (MBR, GPT
 * header and entries, and room for small partitions: the seeds put an LVM
 * physical volume with its metadata there); what follows, up to
 * FUZZ_DISK_TAIL bytes, is its end (the backup GPT). The rest is zeros. */
#include "fuzz.h"

#include <fcntl.h>
#include <stdbool.h>
#include <unistd.h>

#include "disk.h"

#define FUZZ_DISK_SIZE (4u << 20)
#define FUZZ_DISK_HEAD (128u * 512) /* protective MBR, GPT header, 128 entries, 94 sectors */
#define FUZZ_DISK_TAIL (33u * 512)  /* backup entries and header */

static char disk_path[4096];
static int disk_fd = -1;

static void remove_disk(void) {
        if (disk_path[0])
                unlink(disk_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        (void) argc, (void) argv;
        const char *dir = getenv("TMPDIR");
        snprintf(disk_path, sizeof disk_path, "%s/fuzz-disk.XXXXXX", dir && *dir ? dir : "/tmp");
        disk_fd = mkstemp(disk_path);
        if (disk_fd < 0) {
                perror("mkstemp");
                abort();
        }
        atexit(remove_disk);
        return 0;
}

static void pwrite_all(const void *buf, size_t n, off_t off) {
        fuzz_assert(pwrite(disk_fd, buf, n, off) == (ssize_t) n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        size_t head = size < FUZZ_DISK_HEAD ? size : FUZZ_DISK_HEAD;
        size_t tail = size - head < FUZZ_DISK_TAIL ? size - head : FUZZ_DISK_TAIL;

        fuzz_assert(ftruncate(disk_fd, 0) == 0);
        fuzz_assert(ftruncate(disk_fd, FUZZ_DISK_SIZE) == 0);
        if (head)
                pwrite_all(data, head, 0);
        if (tail)
                pwrite_all(data + head, tail, FUZZ_DISK_SIZE - tail);

        struct disk_info *d = NULL;
        int r = disk_probe(disk_path, &d);
        if (r < 0) {
                fuzz_assert(!d);
                return 0;
        }
        fuzz_assert(d && d->size_bytes == FUZZ_DISK_SIZE && d->sector_size == 512);
        fuzz_assert(d->n_parts <= DISK_MAX_PARTS);
        for (unsigned i = 0; i < d->n_parts; i++) {
                const struct disk_part *p = &d->parts[i];
                fuzz_assert(!p->spec || (p->name && p->spec->number == p->number));
        }
        fuzz_assert(!d->is_xenhost || (d->pttype && strcmp(d->pttype, "gpt") == 0));
        fuzz_assert(!d->sr_uuid || d->sr_vg);
        (void) disk_has_contents(d);
        (void) disk_info_sr(d);
        disk_info_free(d);
        return 0;
}
