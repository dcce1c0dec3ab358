#!/bin/bash
# Tokenizer encode throughput: hb (tokenizer.json and tokenizer.model) vs HF `tokenizers` and `sentencepiece`, one
# thread each, on >= 50 MB of generated real-looking text, with identical ids checked. See tokenizer_bench.py.
#   HB_TOK_BENCH_MB=N   size of the generated text (default 50)
set -eu
cd "$(dirname "$0")/../.."
command -v python3 > /dev/null || { echo "bench_tokenizer: skipped, no python3"; exit 0; }
exec python3 tests/bench/tokenizer_bench.py
