#!/usr/bin/env python3
"""Per-message latency of ../shared/baselines/sklearn_baseline.py, for comparison with
`xiaoer-bench latency` on the same messages.

usage: baseline_timing.py [--baseline PATH] [--train A.jsonl[,B.jsonl]] [--rounds R]
                          [--warmup W] [--out PRED.jsonl] MESSAGES.jsonl ...

Loads the baseline module from its file (it is not modified), trains it exactly as its
main() does (its `build`, `messages` and `actions`; the same OneVsRest LinearSVC on the
same training file, dev.jsonl by default), then classifies every message of the given
files one at a time as the baseline's online loop does:
    decide(clf.decision_function(feats.transform([text]))[0])
timing each call with time.perf_counter_ns after a warm-up of W messages, R rounds over
the messages. Messages are the lines with "text", or the turns of dialogue lines, in file
order (the same set and order as `xiaoer-bench latency` on the same files).

Prints one JSON line on stdout:
    {"n", "messages", "rounds", "msg_per_s", "p50_us", "p90_us", "p99_us", "max_us",
     "train_s"}
where n is the number of timed decisions and msg_per_s is n over the wall time of the
timed loop. Percentiles are nearest-rank on round(p/100 * (n-1)), as in xiaoer's
eval::percentile. --out writes the first round's decisions, one JSON line per message
in the baseline's output format, so they can be checked against the baseline's own.
"""
import argparse
import importlib.util
import json
import math
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_BASELINE = HERE.parent.parent / "shared" / "baselines" / "sklearn_baseline.py"
DEFAULT_TRAIN = HERE.parent.parent / "shared" / "eval" / "dev.jsonl"


def load_baseline(path):
    spec = importlib.util.spec_from_file_location("sklearn_baseline", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def percentile(sorted_us, p):
    """Nearest rank, as xiaoer::eval::percentile (Rust rounds half away from zero)."""
    if not sorted_us:
        return 0.0
    rank = int(math.floor(p / 100.0 * (len(sorted_us) - 1) + 0.5))
    return sorted_us[min(rank, len(sorted_us) - 1)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="+", help="JSONL messages (eval format)")
    ap.add_argument("--baseline", default=str(DEFAULT_BASELINE))
    ap.add_argument("--train", default=str(DEFAULT_TRAIN))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--out")
    a = ap.parse_args()

    b = load_baseline(a.baseline)

    # Training, as the baseline's main() does it.
    act = b.actions()
    train = [m for p in a.train.split(",") for m in b.messages(p)]
    t0 = time.perf_counter()
    feats = b.build()
    x = feats.fit_transform([m["text"] for m in train])
    mlb = b.MultiLabelBinarizer()
    y = mlb.fit_transform([m["intents"] for m in train])
    clf = b.OneVsRestClassifier(b.LinearSVC(C=1.0)).fit(x, y)
    t_train = time.perf_counter() - t0

    # The baseline's decide (a closure inside its main()), copied unchanged.
    def decide(scores):
        picked = [mlb.classes_[i] for i in scores.argsort()[::-1] if scores[i] > 0][:2]
        if not picked:
            picked = [mlb.classes_[scores.argmax()]]
        if "none" in picked and len(picked) > 1:
            picked = [picked[0]]
        action = "escalate" if any(act.get(i) == "escalate" for i in picked) else "reply"
        return {"intents": picked, "action": action}

    texts = [m["text"] for p in a.files for m in b.messages(p)]
    if not texts:
        sys.exit(f"no messages in {a.files}")

    def one(text):
        return decide(clf.decision_function(feats.transform([text]))[0])

    for i in range(min(a.warmup, len(texts))):
        one(texts[i])

    clock = time.perf_counter_ns
    lat_ns = []
    preds = []
    t0 = clock()
    for r in range(max(a.rounds, 1)):
        for text in texts:
            s = clock()
            p = one(text)
            lat_ns.append(clock() - s)
            if r == 0:
                preds.append(p)
    total_s = (clock() - t0) / 1e9

    if a.out:
        with open(a.out, "w", encoding="utf-8") as out:
            for text, p in zip(texts, preds):
                out.write(json.dumps({"text": text, **p}, ensure_ascii=False) + "\n")

    lat = sorted(v / 1e3 for v in lat_ns)
    print(json.dumps({
        "n": len(lat),
        "messages": len(texts),
        "rounds": max(a.rounds, 1),
        "msg_per_s": round(len(lat) / total_s, 1),
        "p50_us": round(percentile(lat, 50), 1),
        "p90_us": round(percentile(lat, 90), 1),
        "p99_us": round(percentile(lat, 99), 1),
        "max_us": round(lat[-1], 1),
        "train_s": round(t_train, 2),
    }))


if __name__ == "__main__":
    main()
