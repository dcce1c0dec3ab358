#!/bin/bash
# PyTorch .bin checkpoints through the CLI, exactly where safetensors are accepted (no conversion step):
#   - hb-train debug on the sharded pytorch_model-*.bin + index form of fixture model/a writes the same bytes (loss,
#     logits, every gradient) as on its model.safetensors;
#   - hb-train init with CLIP and LLaMA given as .bin (a CLIPModel pytorch_model.bin file, a sharded LLaMA index)
#     writes the same checkpoint as from the safetensors directories;
#   - a checkpoint whose data.pkl calls os.system is refused (exit 1, the file and the global named) and the command
#     in it never runs; a legacy (torch < 1.6) file says to re-save or convert.
set -euo pipefail
BIN=${HB_BIN:-bin}
FX=tests/fixtures
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT

for form in model/a torchbin/honeybee; do
  "$BIN/hb-train" debug --checkpoint $FX/$form --stage ft --batch $FX/model/a/batch.safetensors \
      --out "$T/${form//\//_}.safetensors" --threads 2 > /dev/null
done
cmp "$T/model_a.safetensors" "$T/torchbin_honeybee.safetensors"

"$BIN/hb-train" init --config $FX/model/a/config.json --clip $FX/model/a/hf_clip_model --llama $FX/model/a/hf_llama \
    -o "$T/st" --seed 5 --threads 2 > /dev/null
"$BIN/hb-train" init --config $FX/model/a/config.json --clip $FX/torchbin/hf_clip_model/pytorch_model.bin \
    --llama $FX/torchbin/hf_llama/pytorch_model.bin.index.json -o "$T/bin" --seed 5 --threads 2 > /dev/null
cmp "$T/st/model.safetensors" "$T/bin/model.safetensors"

mkdir "$T/evil"
cp $FX/model/a/config.json "$T/evil/"
cp $FX/torchbin/bad/os_system.bin "$T/evil/pytorch_model.bin"
set +e
"$BIN/hb-train" debug --checkpoint "$T/evil" --stage ft --batch $FX/model/a/batch.safetensors \
    --out "$T/o.safetensors" > "$T/out" 2> "$T/err"
rc=$?
set -e
[ $rc -eq 1 ] || { echo "os.system checkpoint: exit $rc"; cat "$T/err"; exit 1; }
grep -q "evil/pytorch_model.bin" "$T/err" && grep -q "'os.system': refused" "$T/err" || { cat "$T/err"; exit 1; }
! grep -q owned "$T/out" "$T/err"
[ ! -e "$T/o.safetensors" ]

cp $FX/torchbin/bad/legacy.bin "$T/evil/pytorch_model.bin"
if "$BIN/hb-train" debug --checkpoint "$T/evil" --stage ft --batch $FX/model/a/batch.safetensors \
    --out "$T/o.safetensors" 2> "$T/err"; then echo "legacy file accepted"; exit 1; fi
grep -q "legacy format of torch < 1.6.*re-save" "$T/err" || { cat "$T/err"; exit 1; }
echo "torchbin_cli: ok"
