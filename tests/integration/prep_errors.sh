#!/bin/bash
# What a user's mistakes get: every message names the file or key and the reason, the exit status is 1 (130 for an
# interruption), and nothing is left half-written. Covered: a wrong path, a wrong converter name, a misspelled key
# or file role, a folder given as a file, a missing image root, image roots that are archives (zip and tar work, a
# .tar.gz is refused with the reason), an archive or folder holding the images one level down (the hint names the
# image_prefix), a tokenizer or a raw file that is a Git LFS pointer, JSON Lines given for a JSON document, hb-mix
# before hb-prep, hb-mix on a source built without its images, hb-train on a plan from another shards directory, and
# Ctrl-C in the middle of hb-prep (no temporary file left, the previous outputs intact, a rerun completes).
set -euo pipefail
BIN=${HB_BIN:-bin}
SHARED=${HB_SHARED:-../shared}
test -e "$SHARED/fixtures/real/vsr/random_train.full.jsonl" || { echo "no $SHARED: skipped"; exit 0; }
SH=$(cd "$SHARED" && pwd)
R=$SH/fixtures/real
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
cat > "$T/base.yaml" <<Y
tokenizer: $SH/fixtures/tokenizers/llama/tokenizer.json
templates: $PWD/templates/honeybee.yaml
sources:
  vsr: {files: $R/vsr/random_dev.excerpt.jsonl, images: none}
  scienceqa: {files: {problems: $R/scienceqa/problems.excerpt150.json, pid_splits: $R/scienceqa/pid_splits.json}, images: none}
  gqa: {files: {questions: $R/gqa/balanced_questions.excerpt_202218649.json}, images: $R/images/gqa}
  vgqa: {dataset: vg-qa, files: $R/visual_genome/question_answers.excerpt.json, images: $R/images/vg}
mix: {unit: samples, sources: {gqa: {repeat: 4}, vgqa: {repeat: 4}}}
Y
# fails NAME SED [ARGS...]: the edited recipe fails with status 1, the message holds every line of $T/want, and the
# output directory was not created
fails() {
  local name=$1 edit=$2; shift 2
  sed "$edit" "$T/base.yaml" > "$T/$name.yaml"
  set +e; "$BIN/hb-prep" "$T/$name.yaml" -o "$T/out-$name" -q "$@" 2> "$T/err"; rc=$?; set -e
  test "$rc" = 1 || { echo "$name: exit $rc"; cat "$T/err"; exit 1; }
  while read -r w; do grep -qF -- "$w" "$T/err" || { echo "$name: no '$w' in:"; cat "$T/err"; exit 1; }; done < "$T/want"
  test ! -e "$T/out-$name" || { echo "$name: left $T/out-$name"; exit 1; }
}
printf '%s\n' "random_dev.excerpt.jsonx" "missing raw file (named by sources.vsr.files" > "$T/want"
fails path 's|random_dev.excerpt.jsonl|random_dev.excerpt.jsonx|'
printf '%s\n' "sources.vgqa.dataset: unknown converter 'vg_qa' (did you mean 'vg-qa'?)" > "$T/want"
fails converter 's|dataset: vg-qa|dataset: vg_qa|'
printf '%s\n' "sources.vsr.rewite: unknown key (did you mean 'rewrite'?)" > "$T/want"
fails key 's|images: none}$|images: none, rewite: robust}|'
printf '%s\n' "sources.scienceqa.files.pid_split: not a file role of scienceqa (did you mean 'pid_splits'?)" > "$T/want"
fails role 's|pid_splits: |pid_split: |'
printf '%s\n' "max_lenght: unknown key (did you mean 'max_length'?)" > "$T/want"
fails top '1i max_lenght: 1023'
printf '%s\n' "sources.vsr-dev: the template set" "has no pattern for 'vsr-dev'" "set sources.vsr-dev.template: vsr" > "$T/want"
fails template 's|^  vsr: {|  vsr-dev: {dataset: vsr, |'
printf '%s\n' "$R/visual_genome: is a folder; sources.vgqa.files" > "$T/want"
fails folder 's|files: [^,]*question_answers.excerpt.json|files: '"$R"'/visual_genome|'
printf '%s\n' "$R/images/gqa-all: no such image folder or archive (sources.gqa.images" > "$T/want"
fails root 's|images/gqa}|images/gqa-all}|'
printf '%s\n' "sources.gqa.images: missing: the records of gqa name image files" "images: none" > "$T/want"
fails noroot 's|, images: [^}]*images/gqa}|}|'
printf 'version https://git-lfs.github.com/spec/v1\noid sha256:9e556afd44213b6bd1be2b850ebbbd98f5481437a8021afaf58ee7fb1818d347\nsize 499723\n' > "$T/tokenizer.model"
printf '%s\n' "$T/tokenizer.model" "Git LFS pointer" "git lfs pull" > "$T/want"
fails lfs "s|^tokenizer: .*|tokenizer: $T/tokenizer.model|"
cp "$T/tokenizer.model" "$T/question_answers.json"
printf '%s\n' "$T/question_answers.json" "Git LFS pointer, not the data (named by sources.vgqa.files" > "$T/want"
fails lfsdata "s|files: [^,]*question_answers.excerpt.json|files: $T/question_answers.json|"
printf '%s\n' "coco2014_val_gpt4_qa_30x3.jsonl" "looks like JSON Lines" > "$T/want"
fails jsonl 's|  vsr: {files: .*|  vsr: {dataset: llava-instruct, files: '"$R"'/llava/coco2014_val_gpt4_qa_30x3.jsonl, images: none}|'
test ! -e "$T/out-jsonl" # (the check above: a failure inside a source also leaves no directory it made)

# image roots as archives, in place: zip and tar (also with the images one folder down) work, .tar.gz does not
python3 - "$T" "$R/images/gqa" <<'PY'
import os, sys, tarfile, zipfile
t, src = sys.argv[1:3]
names = sorted(os.listdir(src))
with zipfile.ZipFile(os.path.join(t, "gqa.zip"), "w") as z:
    for n in names: z.write(os.path.join(src, n), n)
with zipfile.ZipFile(os.path.join(t, "gqa-nested.zip"), "w") as z:
    for n in names: z.write(os.path.join(src, n), "images/" + n)
for name, mode in (("gqa.tar", "w"), ("gqa.tar.gz", "w:gz")):
    with tarfile.open(os.path.join(t, name), mode) as tf:
        for n in names: tf.add(os.path.join(src, n), n)
os.makedirs(os.path.join(t, "nested/images"))
for n in names:
    with open(os.path.join(src, n), "rb") as a, open(os.path.join(t, "nested/images", n), "wb") as b:
        b.write(a.read())
PY
for a in gqa.zip gqa.tar gqa-nested.zip; do
  sed "s|$R/images/gqa}|$T/$a}|" "$T/base.yaml" > "$T/a.yaml"
  "$BIN/hb-prep" "$T/a.yaml" -o "$T/out-$a" --only gqa -q
  python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); assert s["samples_written"] == 1, s' "$T/out-$a/gqa.stats.json"
done
cmp "$T/out-gqa.zip/gqa-00000.hbs" "$T/out-gqa.tar/gqa-00000.hbs"
printf '%s\n' "$T/gqa.tar.gz" "sources.gqa.images" "compressed with gzip" "decompress it to a plain .tar first" > "$T/want"
fails tgz "s|$R/images/gqa}|$T/gqa.tar.gz}|"
# a folder holding the images one level down: every sample dropped, and the summary names the prefix to set
sed "s|$R/images/gqa}|$T/nested}|" "$T/base.yaml" > "$T/n.yaml"
"$BIN/hb-prep" "$T/n.yaml" -o "$T/out-n" --only gqa 2> "$T/err"
grep -qF "gqa: 1 record -> 0 samples written; 0 records rejected, 1 sample dropped (see gqa.rejects.jsonl)" "$T/err"
grep -qF "set sources.gqa.image_prefix: \"images/\"" "$T/err"
python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); assert s["rejects_by_reason"] == {"image missing": 1} and s["rejected_records"] == 0, s' "$T/out-n/gqa.stats.json"

# hb-mix before hb-prep: nothing written, the message says what to run
set +e; "$BIN/hb-mix" "$T/base.yaml" --shards "$T/none" 2> "$T/err"; rc=$?; set -e
test "$rc" = 1 && grep -qF "$T/none: shards directory not found (run hb-prep first)" "$T/err" && test ! -e "$T/none"

# a source built without its images (images: none) is not planned for training; --dry-run still shows the table
"$BIN/hb-prep" "$T/base.yaml" -o "$T/s0" -q
"$BIN/hb-prep" "$T/base.yaml" -o "$T/s0" -q --only gqa   # the manifest keeps the other sources' entries
python3 -c 'import json,sys; i=json.load(open(sys.argv[1]))["info"]; assert i["without_images"] == ["vsr", "scienceqa"], i' \
  "$T/s0/manifest.json"
sed 's|vgqa: {repeat: 4}}|vgqa: {repeat: 4}, vsr: {repeat: 1}}|' "$T/base.yaml" > "$T/mixvsr.yaml"
set +e; "$BIN/hb-mix" "$T/mixvsr.yaml" --shards "$T/s0" 2> "$T/err"; rc=$?; set -e
test "$rc" = 1 && grep -qF "source vsr was compiled without its images (hb-prep --no-images or images: none)" "$T/err"
test ! -e "$T/s0/mix-mixvsr"
"$BIN/hb-mix" "$T/mixvsr.yaml" --shards "$T/s0" --dry-run | grep -qF "warning: source vsr was compiled without its images"

# hb-train on a plan made from other shards: refused before anything is initialised, naming both directories
"$BIN/hb-prep" "$T/base.yaml" -o "$T/s1" -q
"$BIN/hb-mix" "$T/base.yaml" --shards "$T/s1" > /dev/null
sed 's|balanced_questions.excerpt_202218649|all_questions.excerpt_20240871|' "$T/base.yaml" > "$T/other.yaml"
"$BIN/hb-prep" "$T/other.yaml" -o "$T/s2" -q
"$BIN/hb-mix" "$T/other.yaml" --shards "$T/s2" > /dev/null
set +e
"$BIN/hb-train" train --config examples/train/demo.yaml --data.plan "$T/s1/mix-base/plan.hbmix" --data.shards "$T/s2" \
  --run_dir "$T/run" --steps 1 2> "$T/err"; rc=$?
set -e
test "$rc" = 1 || { echo "hb-train exit $rc"; cat "$T/err"; exit 1; }
grep -qF "was made from another version of this shard" "$T/err" && grep -qF "use the shards it was made from ($T/s1)" "$T/err"
test ! -e "$T/run/init"

# Ctrl-C in the middle of hb-prep: exit 130, no temporary file, the previous outputs intact; a rerun completes
python3 - "$T/big.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(150000):
        f.write(json.dumps({"image": "%d.jpg" % i, "image_link": "http://x/train2017/%d.jpg" % i,
                            "caption": "The cat %d is on the mat." % i, "label": i % 2}) + "\n")
PY
sed -e "s|^  vsr: .*|  small: {dataset: vsr, template: vsr, files: $R/vsr/random_dev.excerpt.jsonl, images: none}\n  big: {dataset: vsr, template: vsr, files: $T/big.jsonl, images: none}|" \
    -e '/^  scienceqa\|^  gqa\|^  vgqa\|^mix/d' "$T/base.yaml" > "$T/big.yaml"
"$BIN/hb-prep" "$T/big.yaml" -o "$T/c" -j 2 -q
cp "$T/c/manifest.json" "$T/manifest.before"
ls "$T/c" > "$T/ls.before"
rm "$T/c/small.stats.json"
"$BIN/hb-prep" "$T/big.yaml" -o "$T/c" -j 2 -q 2> "$T/err" &
pid=$!
for _ in $(seq 1 1000); do [ -e "$T/c/small.stats.json" ] && break; sleep 0.01; done
kill -INT "$pid"
set +e; wait "$pid"; rc=$?; set -e
if [ "$rc" = 130 ]; then
  grep -qF "interrupted (signal 2)" "$T/err" && grep -qF "big.jsonl: record" "$T/err"
  grep -qF "manifest.json is not updated until a run completes" "$T/err"
else  # the machine finished the 150,000 records before the signal arrived: nothing to check but the outcome
  test "$rc" = 0 || { cat "$T/err"; exit 1; }
fi
ls "$T/c" > "$T/ls.after"
cmp "$T/ls.before" "$T/ls.after"   # no temporary file, nothing missing
cmp "$T/manifest.before" "$T/c/manifest.json"
"$BIN/hb-prep" "$T/big.yaml" -o "$T/c" -j 2 -q
"$BIN/hb-inspect" verify "$T/c" > /dev/null
cmp "$T/manifest.before" "$T/c/manifest.json"
echo ok
