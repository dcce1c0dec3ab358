#!/bin/bash
# hb-tok end to end: encode/decode/prompt/info on the shared LLaMA tokenizer.json and the committed LLaMA-2
# tokenizer.model (same ids), exact expected outputs, and clear errors with line numbers and exit codes.
set -eu
cd "$(dirname "$0")/../.."
HB_BIN=${HB_BIN:-$PWD/bin}
HB_SHARED=${HB_SHARED:-$(cd .. && pwd)/shared}
TOK=$HB_BIN/hb-tok
JSON=$HB_SHARED/fixtures/tokenizers/llama/tokenizer.json
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
zstd -q -d -c tests/fixtures/tokenizer/llama2.model.zst > "$tmp/tokenizer.model"
fail() { echo "FAIL: $*" >&2; exit 1; }

# encode: both files, the same ids; spec-data.md §7.2's "\nAI: " pieces; literal <s> stays text
printf '%s\n' '"Hello world"' '"\nAI: "' '"<s>"' '""' '" "' > "$tmp/in.jsonl"
cat > "$tmp/want.jsonl" <<'EOF'
[15043,3186]
[29871,13,23869,29901,29871]
[529,29879,29958]
[]
[259]
EOF
for f in "$JSON" "$tmp/tokenizer.model"; do
  "$TOK" encode --tokenizer "$f" < "$tmp/in.jsonl" > "$tmp/out.jsonl" || fail "encode with $f"
  cmp -s "$tmp/out.jsonl" "$tmp/want.jsonl" || { diff "$tmp/out.jsonl" "$tmp/want.jsonl"; fail "encode ids with $f"; }
done
[ "$("$TOK" encode --tokenizer "$JSON" --bos --eos <<< '"Hello"')" = "[1,15043,2]" ] || fail "--bos --eos"
[ "$("$TOK" encode --tokenizer "$JSON" --pieces <<< '"Hello\n"')" = '["▁Hello","<0x0A>"]' ] || fail "--pieces"

# decode: the inverse, and the references' handling of specials and byte pieces
printf '%s\n' '[15043,3186]' '[1,15043,2]' '[]' '[29871,13,23869,29901,29871]' '[3,15043]' > "$tmp/ids.jsonl"
"$TOK" decode --tokenizer "$JSON" < "$tmp/ids.jsonl" > "$tmp/dec.jsonl"
cat > "$tmp/want_dec.jsonl" <<'EOF'
"Hello world"
"Hello"
""
"\nAI: "
"\u0000 Hello"
EOF
cmp -s "$tmp/dec.jsonl" "$tmp/want_dec.jsonl" || { diff "$tmp/dec.jsonl" "$tmp/want_dec.jsonl"; fail "decode"; }
[ "$("$TOK" decode --tokenizer "$tmp/tokenizer.model" <<< '[0,15043]')" = '" ⁇  Hello"' ] || fail "spm decode of <unk>"

# prompt: Honeybee layout, two visual tokens, the answer and its EOS supervised
out=$(printf '%s\n' '"Sys\nHuman: <image>\nHuman: Q?\nAI: red"' | "$TOK" prompt --tokenizer "$JSON" --visual-tokens 2 --max-length 1023)
want='{"ids":[1,317,952,29871,13,29950,7889,29901,29871,-1,-1,29871,13,29950,7889,29901,29871,660,29973,29871,13,23869,29901,29871,2654,2],"mask":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1,1],"truncated":false,"images":1,"images_in_prompt":1,"supervised":2}'
[ "$out" = "$want" ] || fail "prompt: got $out"
out=$(printf '%s\n' '"Sys\nHuman: <image>\nHuman: Q?\nAI: red"' | "$TOK" prompt --tokenizer "$JSON" --visual-tokens 2 --max-length 5)
case "$out" in *'"truncated":true'*'"images":0,"images_in_prompt":1'*) ;; *) fail "truncated prompt: $out" ;; esac

"$TOK" info --tokenizer "$tmp/tokenizer.model" | grep -q "32000 pieces" || fail "info"

# bench: the same ids with 1 and 3 threads
for i in $(seq 1 300); do echo "line $i: The quick brown fox jumps over the lazy dog ${i}x$((i * 7)) 北京 🐝"; done > "$tmp/text.txt"
"$TOK" bench --tokenizer "$JSON" --ids-out "$tmp/ids1" "$tmp/text.txt" | grep -q "300 lines" || fail "bench"
"$TOK" bench --tokenizer "$JSON" --threads 3 --ids-out "$tmp/ids3" "$tmp/text.txt" > /dev/null || fail "bench --threads"
cmp -s "$tmp/ids1" "$tmp/ids3" || fail "bench ids differ between 1 and 3 threads"

# errors: line numbers, exit 1 for bad input, 2 for usage
set +e
printf '%s\n' '"ok"' '"unterminated' | "$TOK" encode --tokenizer "$JSON" > /dev/null 2> "$tmp/err"
[ $? = 1 ] || fail "bad encode input must exit 1"
grep -q "<stdin>: line 2, column 14: unterminated JSON string" "$tmp/err" || { cat "$tmp/err"; fail "encode error text"; }
printf '%s\n' '[1,2]' '[1,x]' | "$TOK" decode --tokenizer "$JSON" > /dev/null 2> "$tmp/err"
[ $? = 1 ] && grep -q "line 2, column 4: expected an integer" "$tmp/err" || { cat "$tmp/err"; fail "decode error"; }
printf '%s\n' '[1,32000]' | "$TOK" decode --tokenizer "$JSON" > /dev/null 2> "$tmp/err"
[ $? = 1 ] && grep -q "line 1: id 32000 at position 1 is outside the vocabulary" "$tmp/err" || { cat "$tmp/err"; fail "range error"; }
printf 'version https://git-lfs.github.com/spec/v1\noid sha256:9e55\nsize 499723\n' > "$tmp/lfs.model"
"$TOK" info --tokenizer "$tmp/lfs.model" 2> "$tmp/err"
[ $? = 1 ] && grep -q "Git LFS pointer" "$tmp/err" || { cat "$tmp/err"; fail "LFS pointer"; }
"$TOK" encode --tokenizer "$tmp/missing.json" < /dev/null 2> "$tmp/err"
[ $? = 1 ] && grep -q "missing.json" "$tmp/err" || fail "missing tokenizer"
"$TOK" encode < /dev/null 2> /dev/null; [ $? = 2 ] || fail "no --tokenizer must exit 2"
"$TOK" frobnicate --tokenizer "$JSON" < /dev/null 2> /dev/null; [ $? = 2 ] || fail "unknown command must exit 2"
"$TOK" prompt --tokenizer "$JSON" --max-length -3 < /dev/null 2> /dev/null; [ $? = 2 ] || fail "bad --max-length must exit 2"
set -e
echo "tokenizer_cli: ok"
