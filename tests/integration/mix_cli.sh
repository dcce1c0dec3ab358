#!/bin/bash
# hb-mix end to end through the CLI: the shipped recipes (honeybee-ft, honeybee-pt, table5a-*) over synthetic shards
# packed with hb-inspect (a directory without a manifest), dry run writes nothing, -j1 and -j2 give the same bytes,
# dump resumes from a cursor, ranks split each batch, errors exit non-zero and write nothing.
set -eu
cd "$(dirname "$0")/../.."
BIN=${HB_BIN:-bin}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
mkdir -p "$T/shards"
fail() { echo "FAIL: $*"; exit 1; }

# n samples of source $1 (sizes vary: BOS, 4 image placeholders unless text-only, text, last third supervised)
make_source() {
  awk -v src="$1" -v n="$2" -v img="$3" 'BEGIN {
    for (k = 0; k < n; k++) {
      len = 8 + (k * 37 + length(src) * 11) % 60; ids = "1"; m = "0"
      for (i = 1; i < len; i++) { ids = ids "," (i <= img ? -1 : 100 + (i * k) % 900); m = m "," (i > img && i >= len - len / 3 ? 1 : 0) }
      printf "{\"id\":\"%s/%d\",\"source\":\"%s\",\"source_file\":\"syn.json\",\"input_ids\":[%s],\"loss_mask\":[%s]}\n", src, k, src, ids, m
    } }' > "$T/$1.jsonl"
  "$BIN/hb-inspect" pack "$T/$1.jsonl" -o "$T/shards/$1-00000.hbs"
}
i=0
for s in coyo vqav2 gqa ocrvqa vsr scienceqa aokvqa refcoco refcocoplus refcocog vg llava150k sharegpt blip; do
  img=4; [ "$s" = sharegpt ] && img=0
  make_source "$s" $((40 + 13 * i)) $img; i=$((i + 1))
done

# dry run: the table, nothing written
out=$("$BIN/hb-mix" recipes/honeybee-ft.yaml --shards "$T/shards" -o "$T/ft" --dry-run -j2)
echo "$out" | grep -q "mix honeybee-ft: 512,000 samples" || fail "dry-run headline: $out"
[ "$(echo "$out" | grep -cE '^(coyo|vqav2|gqa|ocrvqa|vsr|scienceqa|aokvqa|refcoco|refcocoplus|refcocog|vg|llava150k|sharegpt) ')" = 13 ] || fail "13 rows"
echo "$out" | grep -q "not mixed (present in the shards): blip" || fail "unused source not reported"
[ ! -e "$T/ft" ] || fail "dry run wrote $T/ft"
dry_hash=$(echo "$out" | sed -n 's/^plan hash: //p')

# real runs: same bytes for -j1 and -j2, and the dry run's hash
"$BIN/hb-mix" recipes/honeybee-ft.yaml --shards "$T/shards" -o "$T/ft" -j1 > "$T/run1.txt"
cp "$T/ft/plan.hbmix" "$T/plan-j1.hbmix"
"$BIN/hb-mix" recipes/honeybee-ft.yaml --shards "$T/shards" -o "$T/ft" -j2 > /dev/null
cmp "$T/plan-j1.hbmix" "$T/ft/plan.hbmix" || fail "-j1 and -j2 plans differ"
for f in table.json table.md; do [ -s "$T/ft/$f" ] || fail "missing $f"; done
grep -q "\"plan_hash\":\"$dry_hash\"" "$T/ft/table.json" || fail "dry-run hash $dry_hash not the plan's"
"$BIN/hb-mix" verify "$T/ft/plan.hbmix" | grep -q verified || fail verify
"$BIN/hb-mix" info "$T/ft/plan.hbmix" | grep -q "512,000 samples, global batch 128" || fail info

# resume: the dump from a cursor is the tail of the full dump
"$BIN/hb-mix" dump "$T/ft/plan.hbmix" --count 3000 > "$T/full.jsonl"
for pos in 0 1 1234 2999; do
  "$BIN/hb-mix" dump "$T/ft/plan.hbmix" --from "$dry_hash:$pos" --count $((3000 - pos)) > "$T/tail.jsonl"
  tail -n +$((pos + 1)) "$T/full.jsonl" | cmp - "$T/tail.jsonl" || fail "resume at $pos"
done
"$BIN/hb-mix" dump "$T/ft/plan.hbmix" --from "0000000000000000:5" --count 1 >/dev/null 2>&1 && fail "foreign cursor accepted"
# ranks: 4 ranks of batch 128 cover the first 3000 positions exactly
for r in 0 1 2 3; do "$BIN/hb-mix" dump "$T/ft/plan.hbmix" --count 3000 --rank $r/4; done | sort > "$T/ranks.jsonl"
sort "$T/full.jsonl" | cmp - "$T/ranks.jsonl" || fail "rank slices do not cover the stream"
"$BIN/hb-mix" dump "$T/ft/plan.hbmix" --count 5 --ids | head -1 | grep -q '"id":"' || fail "dump --ids"

# the other shipped recipes plan over the same shards
for r in table5a-per-dataset table5a-per-task table5a-per-sample-100k table5a-tuned honeybee-pt; do
  "$BIN/hb-mix" "recipes/$r.yaml" --shards "$T/shards" --dry-run -j2 > "$T/$r.txt" || fail "$r"
  grep -q "^plan hash: " "$T/$r.txt" || fail "$r table"
done
grep -q "12,800,000 samples" "$T/honeybee-pt.txt" || fail "pt stream length"
cmp <(sed -n '/^source/,/^total/p' "$T/table5a-tuned.txt" | sed 1d) <(sed -n '/^source/,/^total/p' "$T/run1.txt" | sed 1d) \
  || fail "table5a-tuned differs from honeybee-ft"

# bad input: an unknown source fails with exit 1 and writes nothing; usage errors exit 2
sed 's/^    sharegpt: /    sharegpt4v: /' recipes/table5a-per-dataset.yaml | sed 's/^  sharegpt:  /  sharegpt4v:/' > "$T/bad.yaml"
sed -i 's#^output: .*#output: shards#' "$T/bad.yaml"
set +e
"$BIN/hb-mix" "$T/bad.yaml" --shards "$T/shards" -o "$T/bad-out" > /dev/null 2> "$T/err.txt"; rc=$?
set -e
[ $rc = 1 ] || fail "unknown source: exit $rc"
grep -q "sharegpt4v" "$T/err.txt" || fail "error does not name the source: $(cat "$T/err.txt")"
[ ! -e "$T/bad-out" ] || fail "failed run wrote its output directory"
set +e
"$BIN/hb-mix" > /dev/null 2>&1; rc1=$?
"$BIN/hb-mix" recipes/honeybee-ft.yaml -j 0 > /dev/null 2>&1; rc2=$?
"$BIN/hb-mix" dump "$T/ft/plan.hbmix" --rank 5/4 > /dev/null 2>&1; rc3=$?
set -e
[ $rc1 = 2 ] && [ $rc2 = 2 ] && [ $rc3 = 2 ] || fail "usage errors should exit 2 ($rc1 $rc2 $rc3)"
echo "mix_cli: ok"
