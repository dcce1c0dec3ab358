#!/bin/bash
# hb-train init / debug end to end (python3 standard library only, no PyPI):
#   - debug on the PyTorch fixtures writes the documented file (loss, logits, features, visual_tokens, grad.* for
#     exactly the stage's parameters) and matches the references (1e-4 loss/logits, 1e-3 gradients);
#   - a generated, sparse, header-only 7B bf16 checkpoint with a missing and a mis-shaped tensor fails at once with
#     the listing;
#   - init --preset tiny, then debug on it; usage errors exit 2, bad inputs exit 1 naming the file.
set -euo pipefail
BIN=${HB_BIN:-bin}
FX=tests/fixtures/model
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT

cat > "$T/st.py" <<'PY'
import json, struct, sys, array
def read(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n]); base = 8 + n; out = {}
    for k, v in h.items():
        if k == "__metadata__": continue
        s, e = v["data_offsets"]
        code = {"F32": "f", "I32": "i"}.get(v["dtype"])
        a = array.array(code); a.frombytes(b[base + s:base + e])
        out[k] = (v["dtype"], v["shape"], a)
    return out
def write(path, tensors):  # name -> (dtype, shape, array)
    hdr, off, blobs = {}, 0, []
    for k in sorted(tensors):
        dt, shape, a = tensors[k]; raw = a.tobytes()
        hdr[k] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(raw)]}; off += len(raw); blobs.append(raw)
    h = json.dumps(hdr).encode(); h += b" " * (-(8 + len(h)) % 8)
    open(path, "wb").write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
PY

# 1. debug matches the PyTorch references and writes exactly the documented tensors
for cfg in a b; do for stage in pt ft; do
  "$BIN/hb-train" debug --checkpoint $FX/$cfg --stage $stage --batch $FX/$cfg/batch.safetensors \
      --out "$T/$cfg-$stage.safetensors" --threads 2 > "$T/log"
  grep -q "loss" "$T/log"
  python3 - "$T/$cfg-$stage.safetensors" $FX/$cfg/ref_$stage.safetensors $stage "$T/st.py" <<'PY'
import sys; sys.path.insert(0, sys.argv[4].rsplit("/", 1)[0]); import st
ours, ref, stage = st.read(sys.argv[1]), st.read(sys.argv[2]), sys.argv[3]
assert set(ours) == set(ref), (set(ours) ^ set(ref))
assert all(k.startswith(("grad.abstractor.",) if stage == "pt" else ("grad.abstractor.", "grad.language_model."))
           for k in ours if k.startswith("grad."))
assert ours["loss"][1] == [] and ours["logits"][0] == "F32"
for k, (dt, shape, a) in ref.items():
    b = ours[k][2]; assert ours[k][1] == shape, (k, ours[k][1], shape)
    den = max(max(abs(x) for x in a), 1e-30); err = max(abs(x - y) for x, y in zip(b, a)) / den
    assert err < (1e-3 if k.startswith("grad.") else 1e-4), (k, err)
PY
done; done

# 2. a 7B-shaped bf16 checkpoint (sparse: ~14 GB that take no disk) with a missing and a mis-shaped tensor
python3 - "$T/7b" "$T/st.py" <<'PY'
import json, os, struct, sys, array; sys.path.insert(0, sys.argv[2].rsplit("/", 1)[0]); import st
d = sys.argv[1]; os.makedirs(d)
cfg = json.load(open("tests/fixtures/model/a/config.json"))
cfg["vision_config"].update(hidden_size=1024, intermediate_size=4096, num_attention_heads=16, num_hidden_layers=24,
                            patch_size=14, image_size=224)
cfg["projector_config"].update(depth=3, hidden_size=1024, num_query_tokens=144, feature_layer_index=-1,
                               encoder_hidden_size=1024, output_hidden_size=4096)
cfg["text_config"].update(vocab_size=32000, hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                          num_attention_heads=32, num_key_value_heads=32, head_dim=128, max_position_embeddings=4096)
json.dump(cfg, open(d + "/config.json", "w"))
t = {}
V = "vision_model.vision_model."
t[V + "embeddings.class_embedding"] = [1024]
t[V + "embeddings.patch_embedding.weight"] = [1024, 3, 14, 14]
t[V + "embeddings.position_embedding.weight"] = [257, 1024]
for n in ("pre_layrnorm", "post_layernorm"): t[V + n + ".weight"] = t[V + n + ".bias"] = [1024]
for i in range(24):
    p = V + "encoder.layers.%d." % i
    for n in ("layer_norm1", "layer_norm2"): t[p + n + ".weight"] = t[p + n + ".bias"] = [1024]
    for n in "qkv": t[p + "self_attn.%s_proj.weight" % n] = [1024, 1024]; t[p + "self_attn.%s_proj.bias" % n] = [1024]
    t[p + "self_attn.out_proj.weight"] = [1024, 1024]; t[p + "self_attn.out_proj.bias"] = [1024]
    t[p + "mlp.fc1.weight"] = [4096, 1024]; t[p + "mlp.fc1.bias"] = [4096]
    t[p + "mlp.fc2.weight"] = [1024, 4096]; t[p + "mlp.fc2.bias"] = [1024]
t["abstractor.pos_emb"] = [1, 256, 1024]
for s in (0, 2):
    for b in (1, 2, 3):
        p = "abstractor.net.%d.b%d." % (s, b)
        for c in ("conv1", "conv2", "conv3"):
            t[p + c + ".conv.weight"] = [1024, 1, 3, 3] if c == "conv2" else [1024, 1024, 1, 1]
            t[p + c + ".bn.weight"] = t[p + c + ".bn.bias"] = [1024]
        t[p + "se.fc1.weight"] = [256, 1024, 1, 1]; t[p + "se.fc1.bias"] = [256]
        t[p + "se.fc2.weight"] = [1024, 256, 1, 1]; t[p + "se.fc2.bias"] = [1024]
t["abstractor.readout.0.weight"] = [4096, 1024]; t["abstractor.readout.0.bias"] = [4096]
t["abstractor.readout.2.weight"] = [4096, 4096]; t["abstractor.readout.2.bias"] = [4096]
L = "language_model."
t[L + "model.embed_tokens.weight"] = t[L + "lm_head.weight"] = [32000, 4096]; t[L + "model.norm.weight"] = [4096]
for i in range(32):
    p = L + "model.layers.%d." % i
    for n in "qkvo": t[p + "self_attn.%s_proj.weight" % n] = [4096, 4096]
    t[p + "mlp.gate_proj.weight"] = t[p + "mlp.up_proj.weight"] = [11008, 4096]; t[p + "mlp.down_proj.weight"] = [4096, 11008]
    t[p + "input_layernorm.weight"] = t[p + "post_attention_layernorm.weight"] = [4096]
del t[L + "model.layers.31.mlp.up_proj.weight"]
t[L + "model.layers.0.self_attn.q_proj.weight"] = [4096, 4095]
hdr, off = {}, 0
for k in sorted(t):
    n = 2
    for x in t[k]: n *= x
    hdr[k] = {"dtype": "BF16", "shape": t[k], "data_offsets": [off, off + n]}; off += n
h = json.dumps(hdr).encode(); h += b" " * (-(8 + len(h)) % 8)
with open(d + "/model.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h); f.truncate(8 + len(h) + off)
st.write(d + "/batch.safetensors", {"input_ids": ("I32", [1, 4], array.array("i", [1, 5, 6, 7])),
                                    "labels": ("I32", [1, 4], array.array("i", [-100, 5, 6, 7]))})
PY
set +e
"$BIN/hb-train" debug --checkpoint "$T/7b" --stage ft --batch "$T/7b/batch.safetensors" --out "$T/x.safetensors" \
    2> "$T/err"
rc=$?
set -e
test "$rc" = 1
grep -q "1 missing (language_model.model.layers.31.mlp.up_proj.weight \[11008, 4096\])" "$T/err"
grep -q "language_model.model.layers.0.self_attn.q_proj.weight is BF16 \[4096, 4095\], the config needs \[4096, 4096\]" "$T/err"
test ! -e "$T/x.safetensors"

# 3. init a tiny model, then a debug run on it
"$BIN/hb-train" init --preset tiny -o "$T/tiny" --seed 5 | grep -q "Honeybee init, seed 5"
python3 - "$T/tiny/batch.safetensors" "$T/st.py" <<'PY'
import sys, array; sys.path.insert(0, sys.argv[2].rsplit("/", 1)[0]); import st
ids = [1] + [-1] * 9 + [10, 11, 12, 2, 0, 0]
lab = [-100] * 11 + [11, 12, 2, -100, -100]
st.write(sys.argv[1], {"pixel_values": ("F32", [1, 3, 16, 16], array.array("f", [((i * 37) % 11) / 11.0 - 0.5 for i in range(768)])),
                       "input_ids": ("I32", [1, 16], array.array("i", ids)),
                       "labels": ("I32", [1, 16], array.array("i", lab))})
PY
"$BIN/hb-train" debug --checkpoint "$T/tiny" --stage pt --batch "$T/tiny/batch.safetensors" --out "$T/t.safetensors" \
    | grep -q "over 3 supervised tokens"

# 4. errors: usage -> 2; bad inputs -> 1 naming the file
set +e
"$BIN/hb-train" >/dev/null 2>&1; test $? = 2 || exit 1
"$BIN/hb-train" debug --checkpoint $FX/a --stage xx --batch b --out o >/dev/null 2>&1; test $? = 2 || exit 1
"$BIN/hb-train" init -o "$T/n" >/dev/null 2>&1; test $? = 2 || exit 1
"$BIN/hb-train" init --preset 70b -o "$T/n" 2> "$T/err"; test $? = 1 || exit 1
grep -q "unknown preset" "$T/err" || exit 1
"$BIN/hb-train" debug --checkpoint $FX/a --stage pt --batch $FX/b/batch.safetensors --out "$T/o" 2> "$T/err"
test $? = 1 || exit 1
grep -q "pixel_values has shape \[3, 3, 20, 20\]" "$T/err" || exit 1
"$BIN/hb-train" debug --checkpoint "$T/missing" --stage pt --batch $FX/a/batch.safetensors --out "$T/o" 2> "$T/err"
test $? = 1 || exit 1
grep -q "missing" "$T/err" || exit 1
set -e
echo ok
