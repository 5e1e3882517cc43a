#!/usr/bin/env bash
# Side by side with ../shared/baselines/sklearn_baseline.py, in one run:
# 1. accuracy of both on the turns of dev_dialogues.jsonl (neither was built from
#    them; the baseline trains on dev.jsonl);
# 2. speed of a stream: the baseline one message at a time vs `xiaoer classify
#    --jsonl` over 100,000 lines, start-up and JSON included;
# 3. per-message latency on THE SAME messages (every message of dev.jsonl and
#    every turn of dev_dialogues.jsonl), one at a time on one thread, each side
#    timing only its decision: scripts/baseline_timing.py (the baseline's
#    transform + decision_function + decide, trained as its main() does) vs
#    `xiaoer-bench latency` (Nlu::classify, and the whole Engine::decide);
#    msg/s, p50, p90, p99, max, and the ratios.
# Needs: a release build (cargo build --release --bin xiaoer --bin xiaoer-bench),
# python3 with scikit-learn and jieba.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=../shared
bot=./target/release/xiaoer
bench=./target/release/xiaoer-bench
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if ! python3 -c 'import sklearn, jieba' 2> "$tmp/import.err"; then
  echo "compare-baseline: the baseline needs scikit-learn and jieba for python3:" >&2
  sed 's/^/  /' "$tmp/import.err" | tail -n 1 >&2
  echo "  install them with: pip install scikit-learn jieba" >&2
  exit 1
fi
for b in "$bot" "$bench"; do
  if [ ! -x "$b" ]; then
    echo "compare-baseline: $b is missing: cargo build --release --bin xiaoer --bin xiaoer-bench" >&2
    exit 1
  fi
done

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
echo

# Per-message latency, same messages on both sides, one after the other (not at
# the same time: each has the machine to itself).
files=("$shared/eval/dev.jsonl" "$shared/eval/dev_dialogues.jsonl")
python3 scripts/baseline_timing.py --train "$shared/eval/dev.jsonl" \
  --out "$tmp/timing_preds.jsonl" "${files[@]}" > "$tmp/base_lat.json"
"$bench" latency "${files[@]}" > "$tmp/xiaoer_lat.json"
python3 - "$tmp/base_lat.json" "$tmp/xiaoer_lat.json" "$tmp/timing_preds.jsonl" "$tmp/base.jsonl" <<'PY'
import json, sys
base = json.loads(open(sys.argv[1]).read())
xs = {d["what"]: d for d in map(json.loads, open(sys.argv[2]).read().splitlines())}
# The timing script's decisions on the dev_dialogues turns (the tail of its
# messages) must be the baseline's own, or it did not time the same model.
timed = [json.loads(l) for l in open(sys.argv[3], encoding="utf-8")]
own = [json.loads(l) for l in open(sys.argv[4], encoding="utf-8")]
tail = timed[len(timed) - len(own):]
same = sum(a["text"] == b["text"] and a["intents"] == b["intents"] and a["action"] == b["action"]
           for a, b in zip(tail, own))
if same != len(own):
    sys.exit(f"baseline_timing.py disagrees with the baseline on {len(own) - same} of {len(own)} turns")
for d in xs.values():
    if d["messages"] != base["messages"]:
        sys.exit(f"not the same messages: baseline {base['messages']}, xiaoer {d['messages']}")
print(f"== per-message latency, one at a time on one thread, the same {base['messages']} messages "
      f"(dev.jsonl + dev_dialogues.jsonl turns)")
print(f"   (baseline_timing.py's decisions on the {len(own)} dev_dialogues turns = the baseline's own: "
      f"{same}/{len(own)})")
rows = [("baseline (sklearn)", base), ("xiaoer classify (NLU)", xs["classify"]),
        ("xiaoer decide (whole)", xs["decide"])]
print(f"{'':24}{'decisions':>10}{'msg/s':>11}{'p50 µs':>10}{'p90 µs':>10}{'p99 µs':>10}{'max µs':>10}")
for name, d in rows:
    print(f"{name:24}{d['n']:>10}{d['msg_per_s']:>11.0f}{d['p50_us']:>10.1f}{d['p90_us']:>10.1f}"
          f"{d['p99_us']:>10.1f}{d['max_us']:>10.1f}")
print("ratios (xiaoer vs baseline): throughput = xiaoer msg/s ÷ baseline msg/s; "
      "p99 = baseline p99 ÷ xiaoer p99 (times lower)")
for name, d in rows[1:]:
    print(f"  {name:22} throughput {d['msg_per_s'] / base['msg_per_s']:>8.1f}×   "
          f"p99 {base['p99_us'] / d['p99_us']:>8.1f}×")
PY
