#!/bin/bash
# hb-inspect end to end: pack -> verify -> stats -> dump round trip; a corrupt shard makes verify exit 1 naming the
# place; malformed JSON lines make pack exit non-zero naming the line.
set -euo pipefail
BIN=${HB_BIN:-bin}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
"$BIN/hb-inspect" pack examples/shard/samples.jsonl -o "$T/a.hbs"
"$BIN/hb-inspect" verify "$T/a.hbs" >/dev/null
"$BIN/hb-inspect" dump "$T/a.hbs" > "$T/dump.jsonl"
"$BIN/hb-inspect" pack "$T/dump.jsonl" -o "$T/b.hbs"
cmp "$T/a.hbs" "$T/b.hbs"                      # dump -> pack reproduces the shard byte for byte
"$BIN/hb-inspect" stats --json "$T/a.hbs" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["total"]["samples"]==3, d'
# a directory without a manifest: every *.hbs in it
"$BIN/hb-inspect" stats "$T" | grep -q '^total  *6 '
# corruption: flip one byte in the middle
cp "$T/a.hbs" "$T/c.hbs"
python3 - "$T/c.hbs" <<'PY'
import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[len(b)//2]^=0x40; open(p,'wb').write(b)
PY
if "$BIN/hb-inspect" verify "$T/c.hbs" 2>"$T/err"; then echo "corrupt shard verified"; exit 1; fi
grep -q "c.hbs" "$T/err"; grep -qE "block|index|checksum" "$T/err"
# malformed input to pack names the line and leaves no output file
printf '%s\n' "$(head -n1 examples/shard/samples.jsonl)" '{"id": 1}' > "$T/bad.jsonl"
if "$BIN/hb-inspect" pack "$T/bad.jsonl" -o "$T/bad.hbs" 2>"$T/err"; then echo "bad JSON accepted"; exit 1; fi
grep -q "line 2" "$T/err"; test ! -e "$T/bad.hbs"
# usage errors exit 2
set +e; "$BIN/hb-inspect" frobnicate >/dev/null 2>&1; rc=$?; set -e; test "$rc" = 2
echo ok
