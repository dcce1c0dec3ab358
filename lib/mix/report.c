/* lib/mix/report — the realised table of a mix: per source the request, target and realised share of the unit,
 * samples, source size, passes, the three token totals and the per-global-batch range; as aligned text (hb-mix's
 * stdout), JSON (table.json) and Markdown (table.md). docs/mix-plan.md §7 lists the JSON fields.
 *
 * Dependencies: mix/mix.h (spec, input, result), core/core.h (hb_buf, hb_fmt_count, hb_hash64_hex). */
#include "mix/mix.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void request(const hb_mix_spec *spec, size_t i, char *out, size_t n) {
    const hb_mix_want *w = &spec->want[i];
    if (w->by_size) snprintf(out, n, "size");
    else if (spec->kind == HB_MIX_WEIGHT) snprintf(out, n, "%g", w->value);
    else if (spec->kind == HB_MIX_REPEAT) snprintf(out, n, "x%g", w->value);
    else snprintf(out, n, "%.0f", w->value);
}

static const char *count(uint64_t v, char *buf) { return hb_fmt_count(v, buf, 32); }

static void headline(const hb_mix_spec *spec, const hb_mix_result *res, hb_buf *b) {
    char c1[32], c2[32];
    hb_buf_printf(b, "mix %s: %s samples", spec->name, count(res->samples, c1));
    if (spec->pack) hb_buf_printf(b, " packed into %s sequences", count(res->sequences, c2));
    if (spec->kind == HB_MIX_REPEAT) hb_buf_puts(b, " (repeats: passes over each source)");
    else hb_buf_printf(b, " (%s in %s)", spec->kind == HB_MIX_WEIGHT ? "weights" : "counts", hb_mix_unit_name(spec->unit));
    hb_buf_printf(b, ", seed %llu", (unsigned long long)spec->seed);
    if (spec->batch) {
        uint64_t nb = (res->sequences + spec->batch - 1) / spec->batch;
        hb_buf_printf(b, ", %s global batches of %llu", count(nb, c1), (unsigned long long)spec->batch);
    }
    hb_buf_printf(b, ", balance: %s", spec->balance == HB_MIX_BALANCE_BATCH ? "batch" : "prefix");
}

static void footer(const hb_mix_spec *spec, const hb_mix_input *in, const hb_mix_result *res, hb_buf *b, int md) {
    const char *li = md ? "- " : "";
    hb_buf_printf(b, "%smax prefix deviation: %.3f samples (bound: %s)\n", li, floor(res->max_prefix_dev * 1000) / 1000,
                  spec->balance == HB_MIX_BALANCE_BATCH ? "< 3; every full batch holds floor or ceil of each share"
                                                        : "< 1");
    if (spec->pack) {
        double fill = res->sequences ? (double)res->packed_tokens / ((double)res->sequences * spec->pack_tokens) : 0;
        hb_buf_printf(b, "%spacking: %llu tokens per sequence, window %u, %.1f%% of positions filled\n", li,
                      (unsigned long long)spec->pack_tokens, spec->pack_window, 100 * fill);
    }
    if (in->n_unused) {
        hb_buf_printf(b, "%snot mixed (present in the shards): ", li);
        for (size_t i = 0; i < in->n_unused; i++) hb_buf_printf(b, "%s%s", i ? ", " : "", in->unused[i]);
        hb_buf_puts(b, "\n");
    }
    char hex[17];
    hb_hash64_hex(res->plan_hash, hex);
    hb_buf_printf(b, "%splan hash: %s\n", li, hex);
}

static void row_cells(const hb_mix_spec *spec, const hb_mix_input *in, const hb_mix_result *res, size_t i,
                      char cells[11][40]) {
    const hb_mix_row *r = &res->rows[i];
    char c[32];
    snprintf(cells[0], 40, "%s", in->sources[i].name);
    request(spec, i, cells[1], 40);
    snprintf(cells[2], 40, "%.2f%%", 100 * r->target_share);
    snprintf(cells[3], 40, "%.2f%%", 100 * r->realised_share);
    snprintf(cells[4], 40, "%s", count(r->samples, c));
    snprintf(cells[5], 40, "%s", count(in->sources[i].n, c));
    snprintf(cells[6], 40, "%.3f", r->passes);
    snprintf(cells[7], 40, "%s", count(r->units[HB_MIX_TOKENS], c));
    snprintf(cells[8], 40, "%s", count(r->units[HB_MIX_SUPERVISED], c));
    snprintf(cells[9], 40, "%s", count(r->units[HB_MIX_IMAGE], c));
    if (spec->batch && !spec->pack && res->samples >= spec->batch)
        snprintf(cells[10], 40, "%u-%u", r->batch_min, r->batch_max);
    else
        snprintf(cells[10], 40, "-");
}

static const char *const HEAD[11] = {"source", "request", "target", "realised", "samples", "size", "passes", "tokens",
                                     "supervised", "image_tokens", "per batch"};

static void total_cells(const hb_mix_input *in, const hb_mix_result *res, char cells[11][40]) {
    char c[32];
    uint64_t size = 0;
    for (size_t i = 0; i < in->n_sources; i++) size += in->sources[i].n;
    memset(cells, 0, 11 * 40);
    snprintf(cells[0], 40, "total");
    snprintf(cells[2], 40, "100.00%%");
    snprintf(cells[3], 40, "100.00%%");
    snprintf(cells[4], 40, "%s", count(res->samples, c));
    snprintf(cells[5], 40, "%s", count(size, c));
    snprintf(cells[6], 40, "%.3f", size ? (double)res->samples / (double)size : 0);
    snprintf(cells[7], 40, "%s", count(res->units[HB_MIX_TOKENS], c));
    snprintf(cells[8], 40, "%s", count(res->units[HB_MIX_SUPERVISED], c));
    snprintf(cells[9], 40, "%s", count(res->units[HB_MIX_IMAGE], c));
}

void hb_mix_report_text(const hb_mix_spec *spec, const hb_mix_input *in, const hb_mix_result *res, FILE *out) {
    size_t n = res->n;
    char (*cells)[11][40] = hb_xcalloc(n + 2, sizeof *cells);
    for (int c = 0; c < 11; c++) snprintf(cells[0][c], 40, "%s", HEAD[c]);
    for (size_t i = 0; i < n; i++) row_cells(spec, in, res, i, cells[i + 1]);
    total_cells(in, res, cells[n + 1]);
    size_t wd[11] = {0};
    for (size_t r = 0; r < n + 2; r++)
        for (int c = 0; c < 11; c++)
            if (strlen(cells[r][c]) > wd[c]) wd[c] = strlen(cells[r][c]);
    hb_buf b = {0};
    headline(spec, res, &b);
    hb_buf_puts(&b, "\n");
    for (size_t r = 0; r < n + 2; r++) {
        for (int c = 0; c < 11; c++)
            hb_buf_printf(&b, c == 0 ? "%-*s" : "  %*s", (int)wd[c], cells[r][c]);
        hb_buf_puts(&b, "\n");
    }
    footer(spec, in, res, &b, 0);
    fwrite(b.data, 1, b.len, out);
    hb_buf_free(&b);
    free(cells);
}

void hb_mix_report_md(const hb_mix_spec *spec, const hb_mix_input *in, const hb_mix_result *res, hb_buf *b) {
    hb_buf_printf(b, "# Mix `%s`\n\n", spec->name);
    headline(spec, res, b);
    hb_buf_puts(b, ".\n\n|");
    for (int c = 0; c < 11; c++) hb_buf_printf(b, " %s |", HEAD[c]);
    hb_buf_puts(b, "\n|");
    for (int c = 0; c < 11; c++) hb_buf_puts(b, c ? "---:|" : "---|");
    hb_buf_puts(b, "\n");
    char cells[11][40];
    for (size_t i = 0; i <= res->n; i++) {
        if (i < res->n) row_cells(spec, in, res, i, cells);
        else total_cells(in, res, cells);
        hb_buf_puts(b, "|");
        for (int c = 0; c < 11; c++) hb_buf_printf(b, i == res->n && c == 0 ? " **%s** |" : " %s |", cells[c]);
        hb_buf_puts(b, "\n");
    }
    hb_buf_puts(b, "\n");
    footer(spec, in, res, b, 1);
}

static void json_key(hb_buf *b, const char *k) {
    hb_buf_put_json_str(b, k, strlen(k));
    hb_buf_putc(b, ':');
}

void hb_mix_report_json(const hb_mix_spec *spec, const hb_mix_input *in, const hb_mix_result *res, hb_buf *b) {
    char hex[17];
    hb_hash64_hex(res->plan_hash, hex);
    hb_buf_puts(b, "{");
    json_key(b, "recipe");
    hb_buf_put_json_str(b, spec->name, strlen(spec->name));
    hb_buf_printf(b, ",\"plan\":\"plan.hbmix\",\"plan_hash\":\"%s\",\"unit\":\"%s\",\"kind\":\"%s\",\"seed\":%llu", hex,
                  hb_mix_unit_name(spec->unit), hb_mix_kind_name(spec->kind), (unsigned long long)spec->seed);
    hb_buf_printf(b, ",\"balance\":\"%s\",\"batch_size\":%llu,\"samples\":%llu,\"sequences\":%llu",
                  spec->balance == HB_MIX_BALANCE_BATCH ? "batch" : "prefix", (unsigned long long)spec->batch,
                  (unsigned long long)res->samples, (unsigned long long)res->sequences);
    hb_buf_printf(b, ",\"max_prefix_deviation\":%.6f", res->max_prefix_dev);
    if (spec->pack)
        hb_buf_printf(b, ",\"pack\":{\"max_tokens\":%u,\"window\":%u,\"tokens\":%llu,\"fill\":%.6f}", spec->pack_tokens,
                      spec->pack_window, (unsigned long long)res->packed_tokens,
                      res->sequences ? (double)res->packed_tokens / ((double)res->sequences * spec->pack_tokens) : 0);
    else
        hb_buf_puts(b, ",\"pack\":null");
    hb_buf_puts(b, ",\"sources\":[");
    for (size_t i = 0; i < res->n; i++) {
        const hb_mix_row *r = &res->rows[i];
        hb_buf_puts(b, i ? ",{" : "{");
        json_key(b, "name");
        hb_buf_put_json_str(b, in->sources[i].name, strlen(in->sources[i].name));
        if (spec->want[i].by_size) hb_buf_puts(b, ",\"request\":\"size\"");
        else hb_buf_printf(b, ",\"request\":%.17g", spec->want[i].value);
        hb_buf_printf(b, ",\"target_share\":%.9f,\"realised_share\":%.9f,\"samples\":%llu,\"size\":%llu,\"passes\":%.6f",
                      r->target_share, r->realised_share, (unsigned long long)r->samples,
                      (unsigned long long)in->sources[i].n, r->passes);
        hb_buf_printf(b, ",\"tokens\":%llu,\"supervised_tokens\":%llu,\"image_tokens\":%llu",
                      (unsigned long long)r->units[1], (unsigned long long)r->units[2], (unsigned long long)r->units[3]);
        if (spec->batch && !spec->pack && res->samples >= spec->batch)
            hb_buf_printf(b, ",\"batch_min\":%u,\"batch_max\":%u", r->batch_min, r->batch_max);
        hb_buf_puts(b, "}");
    }
    hb_buf_printf(b, "],\"totals\":{\"samples\":%llu,\"tokens\":%llu,\"supervised_tokens\":%llu,\"image_tokens\":%llu}",
                  (unsigned long long)res->samples, (unsigned long long)res->units[1],
                  (unsigned long long)res->units[2], (unsigned long long)res->units[3]);
    hb_buf_puts(b, ",\"unused_sources\":[");
    for (size_t i = 0; i < in->n_unused; i++) {
        if (i) hb_buf_putc(b, ',');
        hb_buf_put_json_str(b, in->unused[i], strlen(in->unused[i]));
    }
    hb_buf_puts(b, "]}\n");
}
