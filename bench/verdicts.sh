#!/usr/bin/env bash
# Acceptance of the cross-run verdicts (issue #14), with separate invocations of one build:
#   A/A      every pair of N base invocations, compared record by record: false `slower` rate;
#   planted  every (base, planted) pair, where the planted invocations run matmul-f32 with 5%
#            more multiply-adds (k 256 -> 269) under the base's case name: share caught `slower`.
# Usage: bench/verdicts.sh [N] [ROUNDS] [BUDGET_S]   (defaults 5, 10, 0.3)
#        VERDICTS_DIR=DIR bench/verdicts.sh N   compares the files an earlier run kept in DIR
# Needs target/release/accelbench (cargo build --release -p runner) and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-5}" rounds="${2:-10}" budget="${3:-0.3}"
bin=./target/release/accelbench
dir="${VERDICTS_DIR:-$(mktemp -d)}"
common=(native --quick --kernels softmax,layernorm,rmsnorm,gelu-tanh,silu,rope --dtypes f32 --mode inference
  --backends cpu,wgpu --adapter vulkan --rounds "$rounds" --budget "$budget" --no-store --json)
matmul() { echo "--case matmul-f32:m=128,n=128,k=$1 --case matmul-f32:m=64,n=256,k=$1"; }
start=$(date +%s)
[ -n "${VERDICTS_DIR:-}" ] || for i in $(seq 1 "$n"); do
  # shellcheck disable=SC2046
  "$bin" "${common[@]}" $(matmul 256) > "$dir/base-$i.jsonl"
  # shellcheck disable=SC2046
  "$bin" "${common[@]}" $(matmul 269) | sed 's/k=269/k=256/g' > "$dir/planted-$i.jsonl"
done
echo "files in $dir; sampling: $((($(date +%s) - start))) s wall for $((2 * n)) invocations of $rounds rounds, budget ${budget} s per case per round"
python3 - "$dir" "$n" "$bin" <<'PY'
import itertools, json, os, subprocess, sys, tempfile
d, n, bin = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def side(names):
    # Several invocations a side: their files concatenated, as CI would keep them.
    f = tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False)
    for name in names:
        f.write(open(f"{d}/{name}.jsonl").read())
    f.close()
    return f.name
def cmp(a, b):
    out = subprocess.run([bin, "compare", side(a), side(b), "--format", "json", "--threshold", "2%"], capture_output=True, text=True)
    return [r for r in json.loads(out.stdout) if r["verdict"] not in ("only-in-base", "only-in-candidate")]
def count(rows, v): return sum(r["verdict"] == v for r in rows)
def show(label, rows):
    print(f"{label}: {len(rows)} comparisons, slower {count(rows, 'slower')} ({100 * count(rows, 'slower') / len(rows):.1f}%), faster {count(rows, 'faster')}, unchanged {count(rows, 'unchanged')}, inconclusive {count(rows, 'inconclusive')}")
base = [f"base-{i}" for i in range(1, n + 1)]
planted = [f"planted-{i}" for i in range(1, n + 1)]
for per_side in (1, 2):
    groups = list(itertools.combinations(base, per_side))
    aa = [r for a, b in itertools.combinations(groups, 2) if not set(a) & set(b) for r in cmp(a, b)]
    pl = [r for a in groups for b in itertools.combinations(planted, per_side) for r in cmp(a, b) if r["kernel"] == "matmul-f32"]
    print(f"-- {per_side} invocation(s) a side")
    show("A/A", aa)
    show("planted 5%", pl)
    ratios = sorted(r["ratio"] for r in pl)
    print(f"planted ratios: min {ratios[0]:.3f} median {ratios[len(ratios)//2]:.3f} max {ratios[-1]:.3f}")
PY
