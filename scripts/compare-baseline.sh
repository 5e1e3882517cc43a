#!/usr/bin/env bash
# Side by side with ../shared/baselines/sklearn_baseline.py, in one run:
# accuracy of both on the turns of dev_dialogues.jsonl (neither was built from
# them; the baseline trains on dev.jsonl), and speed: the baseline one message at
# a time vs `xiaoer classify --jsonl` over 100,000 lines, start-up and JSON included.
# Needs: a release build (cargo build --release), python3 with scikit-learn and jieba.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=../shared
bot=./target/release/xiaoer
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

python3 "$shared/baselines/sklearn_baseline.py" --train "$shared/eval/dev.jsonl" \
  --test "$shared/eval/dev_dialogues.jsonl" --out "$tmp/base.jsonl" 2> "$tmp/base.err"
base_speed=$(sed -n 's/.*one at a time \([0-9]*\) msg\/s.*/\1/p' "$tmp/base.err")
echo "== baseline on dev_dialogues (trained on dev.jsonl)"
python3 "$shared/eval/score.py" "$shared/eval/dev_dialogues.jsonl" "$tmp/base.jsonl" | sed -n '1,7p'
cat "$tmp/base.err"
echo
echo "== xiaoer on dev_dialogues"
"$bot" eval "$shared/eval/dev_dialogues.jsonl" | sed -n '2,8p'
echo

python3 - "$shared" > "$tmp/100k.jsonl" <<'PY'
import json, sys
shared = sys.argv[1]
msgs = []
for line in open(f"{shared}/eval/dev_dialogues.jsonl", encoding="utf-8"):
    msgs += [t["text"] for t in json.loads(line)["turns"]]
for i in range(100_000):
    print(json.dumps({"text": msgs[i % len(msgs)], "conversation": f"c{i % 1000}"}, ensure_ascii=False))
PY
start=$(date +%s.%N)
"$bot" classify --jsonl < "$tmp/100k.jsonl" > "$tmp/100k.out"
end=$(date +%s.%N)
lines=$(wc -l < "$tmp/100k.out")
python3 - "$start" "$end" "$lines" "$base_speed" <<'PY'
import sys
start, end, lines, base = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
rate = lines / (end - start)
print(f"== speed: xiaoer classify --jsonl {lines} lines in {end - start:.2f} s = {rate:.0f} msg/s; "
      f"baseline one at a time {base:.0f} msg/s; ratio {rate / base:.0f}x")
PY
