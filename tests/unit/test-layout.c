/* Layout planning: sizes, boundaries, alignment, sector sizes, kept SR. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "layout.h"
#include "macro.h"
#include "plan-json.h"

/* Invariants every plan must hold, whatever the disk. */
static void assert_plan_sane(const struct disk_plan *p) {
        uint64_t align = PART_ALIGN_BYTES / p->sector_size, first, last, prev_end = 0;
        unsigned prev_number = 0;

        gpt_usable_range(p->size_bytes, p->sector_size, &first, &last);
        assert_true(p->n_parts >= 5);
        for (size_t i = 0; i < p->n_parts; i++) {
                const struct part_plan *pp = &p->parts[i];
                if (!pp->keep) {
                        assert_int_equal(pp->start % align, 0);
                        assert_int_equal(pp->size % align, 0);
                }
                assert_true(pp->start >= first);
                assert_true(pp->start + pp->size - 1 <= last);
                assert_true(pp->start >= prev_end);
                assert_true(pp->spec->number > prev_number);
                assert_true(pp->size > 0);
                uint64_t mib = pp->spec->size_mib[p->layout];
                if (mib != UINT64_MAX)
                        assert_int_equal(pp->size * p->sector_size, mib * MiB);
                prev_end = pp->start + pp->size;
                prev_number = pp->spec->number;
        }
        /* The SR is last and takes the rest up to the last aligned sector. */
        const struct part_plan *sr = &p->parts[p->n_parts - 1];
        assert_int_equal(sr->spec->role, PART_SR);
        assert_int_equal(sr->spec->number, 7);
        if (!sr->keep)
                assert_true(last + 1 - (sr->start + sr->size) < align);
}

static struct disk_plan plan_ok(uint64_t size, uint32_t ssz, enum layout_kind want) {
        struct disk_plan p;
        assert_int_equal(disk_plan_compute(size, ssz, ssz, want, NULL, &p), 0);
        assert_plan_sane(&p);
        return p;
}

static void test_standard_boundary(void **state) {
        (void) state;
        struct disk_plan p = plan_ok(46 * GB, 512, LAYOUT_AUTO);
        assert_int_equal(p.layout, LAYOUT_STANDARD);
        assert_int_equal(p.n_parts, 7);
        assert_true(p.layout_automatic);

        /* One sector short of 46 GB: compact, and standard is refused. */
        p = plan_ok(46 * GB - 512, 512, LAYOUT_AUTO);
        assert_int_equal(p.layout, LAYOUT_COMPACT);
        assert_int_equal(p.n_parts, 5);
        assert_null(disk_plan_find(&p, PART_LOGS));
        assert_null(disk_plan_find(&p, PART_SWAP));
        assert_int_equal(disk_plan_compute(46 * GB - 512, 512, 512, LAYOUT_STANDARD, NULL, &p), -ENOSPC);
}

static void test_compact_boundary(void **state) {
        (void) state;
        struct disk_plan p = plan_ok(12 * GiB, 512, LAYOUT_AUTO);
        assert_int_equal(p.layout, LAYOUT_COMPACT);
        assert_int_equal(disk_plan_compute(12 * GiB - 512, 512, 512, LAYOUT_AUTO, NULL, &p), -ENOSPC);
        assert_int_equal(disk_plan_compute(12 * GiB - 512, 512, 512, LAYOUT_COMPACT, NULL, &p), -ENOSPC);
        assert_int_equal(disk_plan_compute(0, 512, 512, LAYOUT_AUTO, NULL, &p), -ENOSPC);
        p = plan_ok(12 * GiB, 4096, LAYOUT_AUTO);
        assert_int_equal(p.layout, LAYOUT_COMPACT);
}

static void test_many_sizes(void **state) {
        (void) state;
        static const uint64_t sizes[] = {
                12 * GiB, 12 * GiB + 4096, 20 * GB, 32 * GiB, 45 * GiB, 46 * GB, 50 * GB, 50 * GiB,
                100 * GB + 12345 * 4096, 500 * GB, 2 * TiB - 4096, 2 * TiB, 2 * TiB + 512 * 8, 3 * TiB,
                16 * TiB, 16 * TiB + MiB + 4096,
        };
        static const uint32_t sectors[] = {512, 4096};
        for (size_t i = 0; i < ELEMENTSOF(sizes); i++)
                for (size_t j = 0; j < ELEMENTSOF(sectors); j++) {
                        uint64_t size = ROUND_DOWN(sizes[i], sectors[j]);
                        struct disk_plan p = plan_ok(size, sectors[j], LAYOUT_AUTO);
                        assert_int_equal(p.layout, size >= 46 * GB ? LAYOUT_STANDARD : LAYOUT_COMPACT);
                        /* Compact is always allowed when asked for. */
                        p = plan_ok(size, sectors[j], LAYOUT_COMPACT);
                        assert_int_equal(p.layout, LAYOUT_COMPACT);
                }
}

static void test_exact_geometry(void **state) {
        (void) state;
        /* 50 GiB, 512-byte sectors: numbers a reviewer can check by hand. */
        struct disk_plan p = plan_ok(50 * GiB, 512, LAYOUT_AUTO);
        assert_int_equal(p.parts[0].start, 2048);
        assert_int_equal(p.parts[0].size, 2048);
        assert_int_equal(p.parts[1].start, 4096);
        assert_int_equal(p.parts[2].start, 4096 + 512 * 2048);
        assert_int_equal(p.parts[2].size, 18432 * 2048);
        /* 50 GiB = 104857600 sectors; backup GPT takes the last 33; the SR
         * ends at the last 1 MiB boundary before it. */
        assert_int_equal(p.parts[6].start + p.parts[6].size, 104857600 - 2048);

        /* 4096-byte sectors: 1 MiB is 256 sectors. */
        p = plan_ok(50 * GiB, 4096, LAYOUT_AUTO);
        assert_int_equal(p.parts[0].start, 256);
        assert_int_equal(p.parts[1].start, 512);
        assert_int_equal(p.parts[6].start + p.parts[6].size, 13107200 - 256);
}

static void test_bad_sector_size(void **state) {
        (void) state;
        struct disk_plan p;
        assert_int_equal(disk_plan_compute(50 * GiB, 0, 0, LAYOUT_AUTO, NULL, &p), -EINVAL);
        assert_int_equal(disk_plan_compute(50 * GiB, 520, 520, LAYOUT_AUTO, NULL, &p), -EINVAL);
        assert_int_equal(disk_plan_compute(50 * GiB, 256, 256, LAYOUT_AUTO, NULL, &p), -EINVAL);
}

static void test_keep_sr(void **state) {
        (void) state;
        struct disk_plan old = plan_ok(50 * GiB, 512, LAYOUT_AUTO), p;
        const struct part_plan *sr = disk_plan_find(&old, PART_SR);
        struct kept_partition k = {sr->start, sr->size};

        assert_int_equal(disk_plan_compute(50 * GiB, 512, 512, LAYOUT_AUTO, &k, &p), 0);
        assert_plan_sane(&p);
        assert_true(disk_plan_find(&p, PART_SR)->keep);
        assert_int_equal(disk_plan_find(&p, PART_SR)->start, sr->start);
        assert_int_equal(disk_plan_find(&p, PART_SR)->size, sr->size);

        /* A compact disk's SR starts too early for the standard layout. */
        old = plan_ok(50 * GiB, 512, LAYOUT_COMPACT);
        sr = disk_plan_find(&old, PART_SR);
        k = (struct kept_partition){sr->start, sr->size};
        assert_int_equal(disk_plan_compute(50 * GiB, 512, 512, LAYOUT_STANDARD, &k, &p), -E2BIG);
        assert_int_equal(disk_plan_compute(50 * GiB, 512, 512, LAYOUT_COMPACT, &k, &p), 0);
}

static void test_partition_names(void **state) {
        (void) state;
        static const struct {
                const char *disk;
                unsigned n;
                const char *want;
        } cases[] = {
                {"/dev/sda", 3, "/dev/sda3"},           {"/dev/vdb", 7, "/dev/vdb7"},
                {"/dev/nvme0n1", 3, "/dev/nvme0n1p3"},   {"/dev/nvme10n12", 12, "/dev/nvme10n12p12"},
                {"/dev/loop0", 1, "/dev/loop0p1"},       {"/dev/mmcblk0", 2, "/dev/mmcblk0p2"},
                {"/dev/xvda", 4, "/dev/xvda4"},          {"/dev/sdaa", 7, "/dev/sdaa7"},
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *s = NULL;
                assert_int_equal(partition_node_name(cases[i].disk, cases[i].n, &s), 0);
                assert_string_equal(s, cases[i].want);
                free(s);
        }
        char *s = NULL;
        assert_int_equal(partition_node_name("", 1, &s), -EINVAL);
        assert_int_equal(partition_node_name("/dev/sda", 0, &s), -EINVAL);
        assert_null(s);
}

static void test_plan_json_roundtrip(void **state) {
        (void) state;
        struct disk_plan p = plan_ok(20 * GB, 4096, LAYOUT_AUTO), q;
        struct json_object *o = disk_plan_to_json(&p, NULL);
        char *reason = NULL;

        assert_int_equal(disk_plan_from_json(json_object_to_json_string(o), &q, &reason), 0);
        assert_int_equal(q.n_parts, p.n_parts);
        assert_int_equal(q.layout, p.layout);
        for (size_t i = 0; i < p.n_parts; i++) {
                assert_int_equal(q.parts[i].start, p.parts[i].start);
                assert_int_equal(q.parts[i].size, p.parts[i].size);
        }

        /* A hand-edited geometry is refused. */
        struct json_object *parts, *first;
        json_object_object_get_ex(o, "partitions", &parts);
        first = json_object_array_get_idx(parts, 2);
        json_object_object_add(first, "size", json_object_new_uint64(12345));
        assert_int_equal(disk_plan_from_json(json_object_to_json_string(o), &q, &reason), -EBADMSG);
        assert_non_null(reason);
        free(reason);
        reason = NULL;
        json_object_put(o);

        assert_int_equal(disk_plan_from_json("{", &q, &reason), -EBADMSG);
        free(reason);
        reason = NULL;
        assert_int_equal(disk_plan_from_json("{\"size_bytes\": 1, \"sector_size\": 512, \"layout\": \"huge\", "
                                             "\"partitions\": []}",
                                             &q, &reason),
                         -EBADMSG);
        free(reason);
}

static void test_strings(void **state) {
        (void) state;
        assert_int_equal(layout_kind_from_string("standard"), LAYOUT_STANDARD);
        assert_int_equal(layout_kind_from_string("compact"), LAYOUT_COMPACT);
        assert_int_equal(layout_kind_from_string("auto"), LAYOUT_AUTO);
        assert_int_equal(layout_kind_from_string("big"), _LAYOUT_MAX);
        assert_int_equal(sr_type_from_string("ext"), SR_EXT);
        assert_int_equal(sr_type_from_string("nfs"), _SR_TYPE_MAX);
        assert_ptr_equal(part_spec_by_name("xh-sr"), &part_specs[PART_SR]);
        assert_null(part_spec_by_name("xh-nope"));
        assert_null(part_spec_by_name(NULL));
}

/* Sizes set against a minimum never read as the minimum. */
static void test_format_size_exact(void **state) {
        (void) state;
        char b[SIZE_EXACT_MAX];
        assert_string_equal(format_size_exact(b, sizeof b, LAYOUT_COMPACT_MIN_BYTES - 16 * KiB, false),
                            "11.99 GiB (12884885504 bytes)");
        assert_string_equal(format_size_exact(b, sizeof b, LAYOUT_COMPACT_MIN_BYTES - 1, false),
                            "11.99 GiB (12884901887 bytes)");
        assert_string_equal(format_size_exact(b, sizeof b, LAYOUT_COMPACT_MIN_BYTES, false),
                            "12 GiB (12884901888 bytes)");
        assert_string_equal(format_size_exact(b, sizeof b, 10 * GB, false), "9.31 GiB (10000000000 bytes)");
        assert_string_equal(format_size_exact(b, sizeof b, LAYOUT_STANDARD_MIN_BYTES - 512, true),
                            "45.99 GB (45999999488 bytes)");
        assert_string_equal(format_size_exact(b, sizeof b, LAYOUT_STANDARD_MIN_BYTES, true),
                            "46 GB (46000000000 bytes)");
        assert_string_equal(format_size_exact(b, sizeof b, 0, false), "0 GiB (0 bytes)");
        assert_string_equal(format_size_exact(b, sizeof b, UINT64_MAX, false),
                            "17179869183.99 GiB (18446744073709551615 bytes)");
        assert_true(strlen(b) < SIZE_EXACT_MAX);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_standard_boundary),
                cmocka_unit_test(test_compact_boundary),
                cmocka_unit_test(test_many_sizes),
                cmocka_unit_test(test_exact_geometry),
                cmocka_unit_test(test_bad_sector_size),
                cmocka_unit_test(test_keep_sr),
                cmocka_unit_test(test_partition_names),
                cmocka_unit_test(test_plan_json_roundtrip),
                cmocka_unit_test(test_strings),
                cmocka_unit_test(test_format_size_exact),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
