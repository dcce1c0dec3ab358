#!/bin/bash
# Rebuild the committed seed corpora tests/fuzz/corpus/<harness>/ from the repository's fixtures and examples
# (docs/testing.md "Fuzzing"). Needs the built tools (make), python3 with numpy and safetensors, spm_train and
# libxxhash; only needed when a format changes. Outputs are small (the whole corpus stays well under 1 MB).
#   tests/fuzz/seeds.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${HB_BIN:-bin}
SHARED=${HB_SHARED:-../shared}
C=tests/fuzz/corpus
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
rm -rf "$C"
mkdir -p "$C"/{yaml,recipe,template,pickle,jsplit,sample,sample_json,shard,manifest,imgstore,mix_plan,tokenizer,tokenizer_load,image,archive,safetensors,config,train_config,ckpt_state,sources,torchbin}

# ---- text formats: copies -------------------------------------------------------------------------------------
for f in recipes/*.yaml; do cp "$f" "$C/recipe/$(basename "$f")"; done
for f in templates/coarse.yaml templates/honeybee.yaml templates/task-name.yaml templates/dataset-name.yaml; do
    cp "$f" "$C/template/$(basename "$f")"
done
cp recipes/demo.yaml recipes/honeybee-pt.yaml templates/honeybee.yaml "$C/yaml/"
cp examples/train/demo.yaml "$C/yaml/train-demo.yaml"
cp examples/train/demo.yaml "$C/train_config/demo.yaml"
printf -- '--optim.lr 3e-4\nstage: pt\nmodel: {init: tiny}\ndata: {plan: p.hbmix}\nbatch: {global: 8, micro: 2, ranks: 2, loss_norm: micro}\non_nonfinite: skip\n' \
    > "$C/train_config/flags.yaml"
printf 'a: &x {b: [1, 2.5, .inf, ~, true, "q"]}\nc: *x\nd: |\n  block\n  text\ne: >-\n  folded\n' > "$C/yaml/anchors.yaml"
for f in tests/fixtures/pickle/*.p "examples/refcoco/refs(unc).p"; do cp "$f" "$C/pickle/$(basename "$f" | tr -d '()')"; done
cp tests/fixtures/model/a/config.json "$C/config/honeybee.json"
cp tests/fixtures/model/a/config_legacy.json "$C/config/honeybee_legacy.json"
cp tests/fixtures/model/a/hf_clip/config.json "$C/config/clip_vision.json"
cp tests/fixtures/model/a/hf_clip_model/config.json "$C/config/clip_model.json"
cp tests/fixtures/model/a/hf_llama/config.json "$C/config/llama.json"
cp examples/train/tiny-224.json "$C/config/tiny-224.json"

# jsplit: "<selector>\n<file>" ("-" = JSON Lines)
js() { { printf '%s\n' "$1"; cat "$2"; } > "$C/jsplit/$3"; }
js questions examples/vqav2/v2_OpenEnded_mscoco_val2014_questions.json vqav2_questions
js annotations examples/vqav2/v2_mscoco_val2014_annotations.json vqav2_annotations
js "" examples/gqa/testdev_balanced_questions.json gqa
js - examples/vsr/train.jsonl vsr_lines
js images examples/refcoco/finetune_refcocog_train.json mdetr_images
js "" examples/llava/conversation_58k.json llava
js "" examples/vg/image_data.json vg
js "" examples/scienceqa/pid_splits.json sqa_splits

# sources: <converter index><role index><file> (registry order: lib/sources/registry.c)
"$BIN/hb-prep" converters > "$TMP/conv.txt"
python3 - "$C/sources" <<'PY'
import sys
out = sys.argv[1]
order = ["vqav2", "gqa", "ocrvqa", "vsr", "scienceqa", "scienceqa-llava", "aokvqa", "refcoco-mdetr", "refcoco-refer",
         "vg-regions", "vg-qa", "llava-instruct", "llava-pretrain", "sharegpt", "webdataset"]
files = [("vqav2", 0, "examples/vqav2/v2_OpenEnded_mscoco_val2014_questions.json"),
         ("vqav2", 1, "examples/vqav2/v2_mscoco_val2014_annotations.json"),
         ("gqa", 0, "examples/gqa/testdev_balanced_questions.json"), ("ocrvqa", 0, "examples/ocrvqa/dataset.json"),
         ("vsr", 0, "examples/vsr/train.jsonl"), ("scienceqa", 0, "examples/scienceqa/problems.json"),
         ("scienceqa", 1, "examples/scienceqa/pid_splits.json"), ("aokvqa", 0, "examples/aokvqa/aokvqa_v1p0_train.json"),
         ("refcoco-mdetr", 0, "examples/refcoco/finetune_refcocog_train.json"),
         ("refcoco-refer", 0, "examples/refcoco/refs(unc).p"), ("refcoco-refer", 1, "examples/refcoco/instances.json"),
         ("vg-regions", 1, "examples/vg/image_data.json"), ("vg-qa", 1, "examples/vg/image_data.json"),
         ("llava-instruct", 0, "examples/llava/conversation_58k.json"),
         ("llava-pretrain", 0, "examples/llava/blip_laion_cc_sbu_558k.json"),
         ("sharegpt", 0, "examples/sharegpt/llava_v1_5_sharegpt40k.json"), ("webdataset", 0, "examples/webdataset/00000.tar")]
for name, role, path in files:
    data = open(path, "rb").read()
    open(f"{out}/{name}-{role}", "wb").write(bytes([order.index(name), role]) + data)
# region_descriptions.json and question_answers.json of the examples are larger: a cut-down record of each
open(f"{out}/vg-regions-0", "wb").write(bytes([order.index("vg-regions"), 0]) + b'[{"id": 1, "regions": [{"region_id": 7, '
     b'"image_id": 1, "phrase": "a dog", "x": 10, "y": 20, "width": 30, "height": 40}]}]')
open(f"{out}/vg-qa-0", "wb").write(bytes([order.index("vg-qa"), 0]) + b'[{"id": 1, "qas": [{"qa_id": 3, "image_id": 1, '
     b'"question": "What is it?", "answer": "A dog."}]}]')
open(f"{out}/scienceqa-llava-0", "wb").write(bytes([order.index("scienceqa-llava"), 0]) +
     open("examples/scienceqa/llava_train_QCM-LEPA.json", "rb").read()[:3000].rsplit(b'},\n', 1)[0] + b'}]')
PY
grep -q webdataset "$TMP/conv.txt" || { echo "seeds.sh: converter list changed (hb-prep converters)" >&2; exit 1; }

# ---- tokenizers -------------------------------------------------------------------------------------------------
python3 - "$C" "$SHARED" <<'PY'
import json, subprocess, sys
C, shared = sys.argv[1], sys.argv[2]
corpus = subprocess.run(["zstd", "-dc", "tests/fixtures/tokenizer/corpus.txt.zst"], capture_output=True, check=True).stdout
lines = corpus.split(b"\n")
picked = [l for l in lines[:6000:97] if l and len(l) < 1500][:40]
for i, l in enumerate(picked):
    text = bytes.fromhex(l[2:].decode()) if l.startswith(b"x ") else json.loads(l).encode("utf-8", "surrogatepass")
    for mode in (0, 1):  # 0 = HF tokenizer.json encode, 1 = SentencePiece encode
        open(f"{C}/tokenizer/enc{i:02d}_{mode}", "wb").write(bytes([mode]) + text)
cases = json.load(open("tests/fixtures/tokenizer/prompt_cases.json"))
for i, c in enumerate(cases[:8]):
    ml = max(0, min(255, (c["max_length"] + 40) // 4)) if c["max_length"] > 0 else 0
    open(f"{C}/tokenizer/prompt{i:02d}", "wb").write(bytes([4, ml | (1 if c["no_eos"] else 0), c["visual_tokens"] % 40]) +
                                                     c["prompt"].encode())
open(f"{C}/tokenizer/decode", "wb").write(bytes([2]) + b"".join(i.to_bytes(4, "little") for i in (1, 450, 29871, 13, 2, 0, 259)))
open(f"{C}/tokenizer/jsonline", "wb").write(bytes([6]) + b'"a\\u0000b\\ud83d\\udc1d\\n"')
open(f"{C}/tokenizer/jsonids", "wb").write(bytes([6]) + b" [ 1, -2 ,2147483647 ] ")
# tokenizer.json: the tiny one of test_tokenizer_malformed.c, with byte fallback, and as a Metaspace pre-tokenizer
tiny = {"version": "1.0", "added_tokens": [{"id": 0, "content": "<unk>", "special": True},
        {"id": 1, "content": "<s>", "special": True}, {"id": 2, "content": "</s>", "special": True}],
        "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"},
                       {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
        "pre_tokenizer": None,
        "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
                    {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "fuse_unk": True, "byte_fallback": False,
                  "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "\u2581": 3, "a": 4, "b": 5, "\u2581a": 6, "ab": 7, "\u2581ab": 8},
                  "merges": ["\u2581 a", "a b", "\u2581a b"]}}
open(f"{C}/tokenizer_load/tiny.json", "w").write(json.dumps(tiny))
bf = json.loads(json.dumps(tiny))
bf["model"]["byte_fallback"] = True
for b in range(256):
    bf["model"]["vocab"][f"<0x{b:02X}>"] = 9 + b
open(f"{C}/tokenizer_load/tiny_bytes.json", "w").write(json.dumps(bf))
ms = json.loads(json.dumps(tiny))
ms["normalizer"] = None
ms["pre_tokenizer"] = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": False}
ms["decoder"] = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": False}
ms["model"]["merges"] = [["\u2581", "a"], ["a", "b"], ["\u2581a", "b"]]
open(f"{C}/tokenizer_load/tiny_metaspace.json", "w").write(json.dumps(ms))
PY
# a small SentencePiece BPE model with byte fallback (trained on the example captions)
cat examples/llava/*.json examples/sharegpt/llava_v1_5_sharegpt40k.json | tr -c '[:alnum:] .,?\n' ' ' > "$TMP/spm.txt"
spm_train --input="$TMP/spm.txt" --model_prefix="$TMP/spm" --vocab_size=400 --model_type=bpe --byte_fallback=true \
    --character_coverage=1.0 --normalization_rule_name=identity --minloglevel=2 > /dev/null 2>&1
cp "$TMP/spm.model" "$C/tokenizer_load/small_bpe.model"

# ---- images and archives ----------------------------------------------------------------------------------------
# <mode byte><file>: 0 = decode, 1 | (w, h bits) = prepare (see fuzz_image.c), 3 = prepare with the fast JPEG path
for f in tests/fixtures/image/cases/*; do
    b=$(basename "$f")
    { printf '\000'; cat "$f"; } > "$C/image/$b"
done
for f in tests/fixtures/image/cases/{jpeg_420.jpg,jpeg_progressive.jpg,png_interlaced.png,gif_interlaced.gif,bmp_rgba.bmp}; do
    { printf '\x5b'; cat "$f"; } > "$C/image/prep_$(basename "$f")"
done
python3 - "$C/archive" <<'PY'
import io, sys, tarfile, zipfile
out = sys.argv[1]
jpg = open("tests/fixtures/image/cases/jpeg_gray.jpg", "rb").read()
png = open("tests/fixtures/image/cases/png_1bit.png", "rb").read()
for name, comp in (("stored.zip", zipfile.ZIP_STORED), ("deflated.zip", zipfile.ZIP_DEFLATED)):
    with zipfile.ZipFile(f"{out}/{name}", "w", comp) as z:
        z.writestr("train2014/a.jpg", jpg)
        z.writestr("train2014/b.png", png)
        z.writestr("train2014/", b"")
        z.writestr("../evil.jpg", b"x")
with zipfile.ZipFile(f"{out}/zip64.zip", "w", zipfile.ZIP_STORED, allowZip64=True) as z:
    with z.open("a.jpg", "w", force_zip64=True) as f:
        f.write(jpg)
with tarfile.open(f"{out}/plain.tar", "w", format=tarfile.USTAR_FORMAT) as t:
    for n, d in (("a.jpg", jpg), ("./dir//b.png", png), ("/abs.jpg", b"y")):
        ti = tarfile.TarInfo(n); ti.size = len(d); t.addfile(ti, io.BytesIO(d))
with tarfile.open(f"{out}/pax.tar", "w", format=tarfile.PAX_FORMAT) as t:
    n = "long/" + "x" * 120 + ".jpg"
    ti = tarfile.TarInfo(n); ti.size = len(png); t.addfile(ti, io.BytesIO(png))
PY
cp examples/webdataset/00000.tar "$C/archive/webdataset.tar"

# ---- safetensors ------------------------------------------------------------------------------------------------
python3 - "$C/safetensors" <<'PY'
import json, sys
import numpy as np
from safetensors.numpy import save
out = sys.argv[1]
t = {"f32": np.arange(6, dtype=np.float32).reshape(2, 3), "f16": np.ones(3, np.float16), "f64": np.zeros((1, 2), np.float64),
     "i64": np.array([1, -2, 3], np.int64), "i32": np.array([4], np.int32), "u8": np.arange(5, dtype=np.uint8),
     "b": np.array([True, False]), "i8": np.array([-1], np.int8), "i16": np.array([7, 8], np.int16),
     "scalar": np.array(2.5, np.float32), "empty": np.zeros((0, 4), np.float32)}
open(f"{out}/dtypes.safetensors", "wb").write(b"F" + save(t, metadata={"format": "pt"}))
open(f"{out}/one.safetensors", "wb").write(b"F" + save({"w": np.array([1, 2], np.float32)}))
# BF16 by hand (numpy has no bfloat16): header + 4 bytes
h = json.dumps({"x": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}}).encode()
h += b" " * (-len(h) % 8)
open(f"{out}/bf16.safetensors", "wb").write(b"F" + len(h).to_bytes(8, "little") + h + b"\x80\x3f\x00\x40")
idx = {"metadata": {"total_size": 8}, "weight_map": {"w": "a.safetensors"}}
open(f"{out}/index.json", "wb").write(b"I" + json.dumps(idx).encode())
PY

# ---- torchbin: small torch.save files ('Z' + file) and their data.pkl ('P' + pickle, wrapped by the harness) -----
python3 - "$C/torchbin" <<'PY'
import sys, zipfile
out, T = sys.argv[1], "tests/fixtures/torchbin/"
for f in ("views.bin", "views_zip64.bin", "dtypes_p4.bin", "bad/ok.bin", "bad/os_system.bin", "bad/two_dtypes.bin",
          "bad/past_storage.bin", "bad/legacy.bin"):
    open(f"{out}/z_{f.replace('/', '_')}", "wb").write(b"Z" + open(T + f, "rb").read())
for f in ("views.bin", "dtypes.bin", "bad/model_class.bin"):
    z = zipfile.ZipFile(T + f)
    pk = z.read([n for n in z.namelist() if n.endswith("/data.pkl")][0])
    open(f"{out}/p_{f.replace('/', '_').replace('.bin', '.pkl')}", "wb").write(b"P" + pk)
# a pickle over the harness's storages "0" (16 f32) and "1" (16 bf16): a view, a transposed view, a parameter
pk = (b"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01(X\x01\x00\x00\x00actorch._utils\n_rebuild_tensor_v2\nq\x02"
      b"((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x10tQK\x02K\x02K\x03\x86"
      b"K\x03K\x01\x86\x89h\x00)RtRX\x01\x00\x00\x00th\x02((X\x07\x00\x00\x00storagectorch\nBFloat16Storage\n"
      b"X\x01\x00\x00\x001X\x03\x00\x00\x00cpuK\x10tQK\x00K\x04K\x04\x86K\x01K\x04\x86\x89h\x00)RtRu.")
open(f"{out}/p_harness_storages.pkl", "wb").write(b"P" + pk)
PY

# ---- ckpt state: what trainer_ckpt.c writes, listing config.json = '{"a": 1}\n' -------------------------------
python3 - "$C/ckpt_state" <<'PY'
import ctypes, json, sys
x = ctypes.CDLL("libxxhash.so.0")
x.XXH3_64bits_withSeed.restype = ctypes.c_uint64
x.XXH3_64bits_withSeed.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint64]
cfg = b'{"a": 1}\n'
h = "%016x" % x.XXH3_64bits_withSeed(cfg, len(cfg), 0)
st = {"format": "hb-train-state", "version": 1, "step": 10, "adam_step": 9, "skipped": 1, "stage": "ft",
      "cursor": "0123456789abcdef:40", "plan_hash": "0123456789abcdef", "global_batch": 4, "tokens": 12345,
      "supervised_tokens": 678, "elapsed_s": 1.5, "loss": 2.25,
      "rng": {"kind": "counter", "seed": 1}, "files": {"config.json": {"bytes": len(cfg), "xxh3": h}},
      "config": {"run_dir": "r", "stage": "ft", "optim": {"lr": 0.005}}}
open(f"{sys.argv[1]}/state.json", "w").write(json.dumps(st, indent=2))
st["files"] = {}
open(f"{sys.argv[1]}/no_files.json", "w").write(json.dumps(st))
PY

# ---- shards, samples, manifest, image store, mix plans: a small hb-prep + hb-mix run ---------------------------
sed -e 's#^tokenizer: .*#tokenizer: '"$(realpath "$SHARED")"'/fixtures/tokenizers/llama/tokenizer.json#' \
    -e 's#^image_size: .*#image_size: 4#' -e 's#^visual_tokens: .*#visual_tokens: 4#' \
    -e 's#\.\./#'"$PWD"'/#g' -e 's#^output: .*#output: '"$TMP"'/out#' recipes/demo.yaml > "$TMP/recipe.yaml"
"$BIN/hb-prep" "$TMP/recipe.yaml" --only gqa -q
"$BIN/hb-prep" "$TMP/recipe.yaml" --only vqav2 -q
"$BIN/hb-prep" "$TMP/recipe.yaml" --only aokvqa -q
"$BIN/hb-prep" "$TMP/recipe.yaml" --only refcocog -q
"$BIN/hb-prep" "$TMP/recipe.yaml" --only llava150k -q
"$BIN/hb-prep" "$TMP/recipe.yaml" --only vicuna40k -q
O="$TMP/out"
cp "$O/manifest.json" "$C/manifest/manifest.json"
cp "$O/vqav2-00000.hbs" "$C/shard/vqav2.hbs"
cp "$O/aokvqa-00000.hbs" "$C/shard/aokvqa.hbs"
"$BIN/hb-inspect" pack examples/shard/samples.jsonl -o "$C/shard/examples.hbs"
python3 - "$O/images/4.hbs" "$O/images/4.hbi" "$C/imgstore/store4" "$C/shard/images4.hbs" <<'PY'
import sys
s, i = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
open(sys.argv[3], "wb").write(len(s).to_bytes(4, "little") + s + i)
open(sys.argv[4], "wb").write(s)
PY
# sample JSON lines and binary records (encoded per docs/shard-format.md by an independent writer)
python3 - "$C" <<'PY'
import json, struct, sys
C = sys.argv[1]
def s16(s): b = s.encode(); return struct.pack("<H", len(b)) + b
def s32(b): return struct.pack("<I", len(b)) + b
for i, line in enumerate(open("examples/shard/samples.jsonl", "rb")):
    if i >= 6: break
    open(f"{C}/sample_json/line{i}.json", "wb").write(line.rstrip(b"\n"))
    j = json.loads(line)
    r = struct.pack("<I", 0) + s16(j["id"]) + s16(j["source"]) + s16(j["source_file"])
    r += struct.pack("<I", len(j["records"])) + b"".join(struct.pack("<q", x) for x in j["records"])
    r += s32(json.dumps(j["choices"], separators=(",", ":")).encode())
    r += struct.pack("<I", len(j["images"]))
    for h in j["images"]:
        r += struct.pack("<QQ", int(h[16:], 16), int(h[:16], 16))
    roles = {"system": 0, "human": 1, "ai": 2}
    r += struct.pack("<I", len(j["turns"]))
    for t in j["turns"]:
        r += bytes([roles[t["role"]]]) + s32(t["text"].encode())
    ids, m = j["input_ids"], j["loss_mask"]
    r += struct.pack("<I", len(ids)) + b"".join(struct.pack("<i", x) for x in ids) + bytes(m)
    r += struct.pack("<II", sum(m), sum(1 for x in ids if x == -1))
    open(f"{C}/sample/rec{i}", "wb").write(r)
PY
cat > "$TMP/mix.yaml" <<EOF
name: seeds
seed: 3
output: out
max_length: 1023
sources: {gqa: {}, vqav2: {}, aokvqa: {}, refcocog: {}, llava150k: {}, vicuna40k: {}}
mix:
  unit: samples
  total: 40
  batch_size: 4
  sources: {gqa: {weight: 0.3}, vqav2: {weight: 0.2}, aokvqa: {weight: 0.2}, refcocog: {weight: 0.1}, llava150k: {weight: 0.1}, vicuna40k: {weight: 0.1}}
EOF
"$BIN/hb-mix" "$TMP/mix.yaml" > /dev/null
cp "$O"/mix-seeds/plan.hbmix "$C/mix_plan/plain.hbmix"
cat > "$TMP/mix.yaml" <<EOF
name: seeds
seed: 4
output: out
max_length: 1023
sources: {gqa: {}, vqav2: {}, llava150k: {}}
mix:
  unit: tokens
  total: 3000
  batch_size: 2
  pack: {max_tokens: 400, window: 4}
  sources: {gqa: {weight: 0.5}, vqav2: {weight: 0.25}, llava150k: {weight: 0.25}}
EOF
"$BIN/hb-mix" "$TMP/mix.yaml" > /dev/null
cp "$O"/mix-seeds/plan.hbmix "$C/mix_plan/packed.hbmix"

du -sh "$C"
find "$C" -type f | wc -l
