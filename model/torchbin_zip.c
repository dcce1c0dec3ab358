/* model/torchbin_zip.c — the central directory of a zip held in memory (torch.save's container; torchbin.h): the end
 * of central directory record, the zip64 locator and record, the central entries with their zip64 extra fields, and
 * each entry's local header for the data offset. Every offset and size is checked against the file before use.
 *
 * Dependencies:
 *   model/torchbin.h   hb_zip
 *   core/core.h        hb_err, hb_le16/32/64, hb_xmalloc
 *
 * Layout (APPNOTE.TXT 6.3): local header "PK\3\4" (30 bytes + name + extra) then the data, for each entry; the
 * central directory of "PK\1\2" entries (46 bytes + name + extra + comment); optionally the zip64 end record
 * "PK\6\6" and its locator "PK\6\7" (20 bytes, just before the end record); the end record "PK\5\6" (22 bytes +
 * comment). A field of all ones in a central entry or the end record means "in the zip64 extra / record". */
#include "model/torchbin.h"

#include <stdlib.h>
#include <string.h>

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_END 0x06054b50u
#define SIG_END64 0x06064b50u
#define SIG_LOC64 0x07064b50u

/* The end of central directory record: the last "PK\5\6" whose comment fits in the file. */
static long long find_end(const uint8_t *m, size_t size) {
    if (size < 22) return -1;
    size_t lo = size > 22 + 65535 ? size - 22 - 65535 : 0;
    for (size_t i = size - 22 + 1; i-- > lo;)
        if (hb_le32(m + i) == SIG_END && i + 22 + hb_le16(m + i + 20) <= size) return (long long)i;
    return -1;
}

static int cmp_entry(const void *a, const void *b) {
    return strcmp(((const hb_zip_entry *)a)->name, ((const hb_zip_entry *)b)->name);
}

int hb_zip_index(const char *path, const uint8_t *m, size_t size, hb_zip *z, hb_err *err) {
    memset(z, 0, sizeof *z);
    long long end = find_end(m, size);
    if (end < 0)
        return hb_err_set(err, HB_EFORMAT, path, HB_NOPOS, (long long)size,
                          "zip: no end of central directory record (file truncated?)");
    const uint8_t *e = m + end;
    uint64_t count = hb_le16(e + 10), cd_size = hb_le32(e + 12), cd_off = hb_le32(e + 16);
    int zip64 = end >= 20 && hb_le32(m + end - 20) == SIG_LOC64;
    if (!zip64 && (hb_le16(e + 4) != 0 || hb_le16(e + 6) != 0 || hb_le16(e + 8) != hb_le16(e + 10)))
        return hb_err_set(err, HB_EUNSUPPORTED, path, HB_NOPOS, end, "zip: a multi-disk archive");
    if (zip64) {
        const uint8_t *loc = m + end - 20;
        uint64_t r = hb_le64(loc + 8);
        if (hb_le32(loc + 4) != 0 || hb_le32(loc + 16) > 1)
            return hb_err_set(err, HB_EUNSUPPORTED, path, HB_NOPOS, end - 20, "zip: a multi-disk zip64 archive");
        if (r > (uint64_t)end - 20 || (uint64_t)end - 20 - r < 56 || hb_le32(m + r) != SIG_END64)
            return hb_err_set(err, HB_EFORMAT, path, HB_NOPOS, end - 20,
                              "zip: the zip64 locator points to %llu, where there is no zip64 end record",
                              (unsigned long long)r);
        const uint8_t *e64 = m + r;
        if (hb_le32(e64 + 16) != 0 || hb_le32(e64 + 20) != 0 || hb_le64(e64 + 24) != hb_le64(e64 + 32))
            return hb_err_set(err, HB_EUNSUPPORTED, path, HB_NOPOS, (long long)r, "zip: a multi-disk zip64 archive");
        count = hb_le64(e64 + 32);
        cd_size = hb_le64(e64 + 40);
        cd_off = hb_le64(e64 + 48);
        end = (long long)r;
    }
    if (cd_off > (uint64_t)end || cd_size > (uint64_t)end - cd_off || count > cd_size / 46)
        return hb_err_set(err, HB_EFORMAT, path, HB_NOPOS, end,
                          "zip: central directory of %llu entries at %llu (+%llu bytes) does not fit before the end "
                          "record at %lld (file truncated?)",
                          (unsigned long long)count, (unsigned long long)cd_off, (unsigned long long)cd_size, end);
    z->e = hb_xcalloc(count ? count : 1, sizeof *z->e);
    z->names = hb_xmalloc(cd_size + 1); /* every name fits: each is shorter than its central entry */
    size_t nameused = 0;
    uint64_t p = cd_off, lim = cd_off + cd_size;
    int rc = 0;
    for (uint64_t i = 0; i < count && !rc; i++) {
        if (lim - p < 46 || hb_le32(m + p) != SIG_CENTRAL) {
            rc = hb_err_set(err, HB_EFORMAT, path, (long long)i, (long long)p, "zip: central directory entry %llu is "
                            "not where the directory says", (unsigned long long)i);
            break;
        }
        const uint8_t *c = m + p;
        unsigned nlen = hb_le16(c + 28), xlen = hb_le16(c + 30), clen = hb_le16(c + 32);
        if (lim - p - 46 < (uint64_t)nlen + xlen + clen) {
            rc = hb_err_set(err, HB_EFORMAT, path, (long long)i, (long long)p, "zip: central entry %llu overruns the "
                            "directory", (unsigned long long)i);
            break;
        }
        hb_zip_entry *en = &z->e[i];
        en->flags = hb_le16(c + 8);
        en->method = hb_le16(c + 10);
        en->csize = hb_le32(c + 20);
        en->size = hb_le32(c + 24);
        uint64_t lho = hb_le32(c + 42);
        char *nm = z->names + nameused;
        memcpy(nm, c + 46, nlen);
        nm[nlen] = 0;
        nameused += nlen + 1;
        en->name = nm;
        if (memchr(c + 46, 0, nlen)) {
            rc = hb_err_set(err, HB_EFORMAT, path, (long long)i, (long long)p, "zip: entry %llu's name holds a NUL",
                            (unsigned long long)i);
            break;
        }
        /* zip64 extra: the fields that are all ones in the entry, in this order */
        int need_u = en->size == 0xffffffffu, need_c = en->csize == 0xffffffffu, need_o = lho == 0xffffffffu;
        const uint8_t *x = c + 46 + nlen, *xe = x + xlen;
        while ((need_u || need_c || need_o) && xe - x >= 4) {
            unsigned id = hb_le16(x), len = hb_le16(x + 2);
            if ((size_t)(xe - x - 4) < len) break;
            if (id == 1) {
                const uint8_t *f = x + 4, *fe = f + len;
                if (need_u && fe - f >= 8) en->size = hb_le64(f), f += 8, need_u = 0;
                if (need_c && fe - f >= 8) en->csize = hb_le64(f), f += 8, need_c = 0;
                if (need_o && fe - f >= 8) lho = hb_le64(f), need_o = 0;
                break;
            }
            x += 4 + len;
        }
        if (need_u || need_c || need_o) {
            rc = hb_err_set(err, HB_EFORMAT, path, (long long)i, (long long)p,
                            "zip: entry '%s' needs a zip64 extra field it does not have", nm);
            break;
        }
        /* the local header: its own name and extra lengths decide where the data start */
        if (lho > size || size - lho < 30 || hb_le32(m + lho) != SIG_LOCAL) {
            rc = hb_err_set(err, HB_EFORMAT, path, (long long)i, (long long)lho,
                            "zip: entry '%s': no local header at %llu (file truncated?)", nm, (unsigned long long)lho);
            break;
        }
        uint64_t data = lho + 30 + hb_le16(m + lho + 26) + hb_le16(m + lho + 28);
        if (data > size || en->csize > size - data) {
            rc = hb_err_set(err, HB_EFORMAT, path, (long long)i, (long long)lho,
                            "zip: entry '%s' (%llu bytes at %llu) runs past the end of the %zu-byte file (truncated?)",
                            nm, (unsigned long long)en->csize, (unsigned long long)data, size);
            break;
        }
        en->data = data;
        p += 46 + (uint64_t)nlen + xlen + clen;
        z->n++;
    }
    if (!rc) {
        qsort(z->e, z->n, sizeof *z->e, cmp_entry);
        for (size_t i = 1; i < z->n && !rc; i++)
            if (!strcmp(z->e[i].name, z->e[i - 1].name))
                rc = hb_err_set(err, HB_EFORMAT, path, HB_NOPOS, HB_NOPOS, "zip: entry '%s' appears twice",
                                z->e[i].name);
    }
    if (rc) hb_zip_free(z);
    return rc;
}

long hb_zip_find(const hb_zip *z, const char *name) {
    size_t lo = 0, hi = z->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(z->e[mid].name, name);
        if (!c) return (long)mid;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

void hb_zip_free(hb_zip *z) {
    free(z->e);
    free(z->names);
    memset(z, 0, sizeof *z);
}
