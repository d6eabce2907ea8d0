#!/usr/bin/env bash
# The GPU check: one command for the first machine with a GPU, under 8 minutes on one GPU.
#
#   benchmarks/gpu_check.sh                      # on CUDA: writes benchmarks/results/gpu-check-cuda.md and
#                                                #   benchmarks/results/speed-cuda.{json,md}
#   benchmarks/gpu_check.sh --device cpu         # the dry check: every phase end to end on CPU, tiny networks
#   benchmarks/gpu_check.sh --device cpu --fast  # the dry check the test suite runs (one recipe, one speed job)
#
# Phases (each with its own time limit, so the whole stays under 8 minutes):
#   1. facts     torch, CUDA, the GPUs and their compute capability
#   2. tests     the CUDA-marked tests (pytest -m cuda): on CPU they are collected and skip
#   3. recipes   every shipped recipe for a few dozen steps in fp32, bf16 and torch.compile where the recipe
#                allows it (benchmarks/gpu_check.py): finite losses, a finite checkpoint, samples
#   4. nccl      a 2-process torchrun job over NCCL when two GPUs are visible (else skipped with a note)
#   5. speed     benchmarks/speed.py --device cuda --quick (on CPU: one tiny engine job, to a scratch folder)
# Options: --out DIR (runs and reports; default a new temporary folder), --steps N (recipe steps; default 30 on
# CUDA, 2 on CPU). Exit status 1 when a phase failed; the summary says which.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

DEVICE=cuda FAST=0 OUT="" STEPS=""
while [ $# -gt 0 ]; do
    case "$1" in
        --device) DEVICE=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --steps) STEPS=$2; shift 2 ;;
        --fast) FAST=1; shift ;;
        -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "gpu_check.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$DEVICE" in cuda|cpu) ;; *) echo "gpu_check.sh: --device cuda or cpu" >&2; exit 2 ;; esac
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/ganzoo-gpu-check-XXXXXX")}
mkdir -p "$OUT"
PY=${PYTHON:-python}
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg

if [ "$DEVICE" = cuda ]; then
    STEPS=${STEPS:-30}; RECIPE_ARGS=(); T_TESTS=80; T_RECIPES=200; T_NCCL=50; T_SPEED=150
else
    STEPS=${STEPS:-2}; RECIPE_ARGS=(--tiny); T_TESTS=120; T_RECIPES=600; T_NCCL=60; T_SPEED=300
    export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
    if [ "$FAST" = 1 ]; then RECIPE_ARGS+=(--recipes dcgan --modes fp32,bf16); fi
fi

SUMMARY=$OUT/summary.md
START=$SECONDS
FAILED=0
{
    echo "# GPU check ($DEVICE$([ "$FAST" = 1 ] && echo ', fast'))"
    echo
    echo "$(date -Iseconds), \`benchmarks/gpu_check.sh --device $DEVICE$([ "$FAST" = 1 ] && echo ' --fast')\`"
    echo
    echo "| phase | status | seconds | note |"
    echo "|---|---|---|---|"
} > "$SUMMARY"

# phase NAME LIMIT_S NOTE COMMAND...: run with a time limit, log to OUT/NAME.log, add a summary row
phase() {
    local name=$1 limit=$2 note=$3; shift 3
    local t0=$SECONDS status
    echo "== $name (limit ${limit}s): $*"
    timeout --kill-after=10 "$limit" "$@" > "$OUT/$name.log" 2>&1
    local rc=$?
    tail -n 25 "$OUT/$name.log"
    case $rc in
        0) status=ok ;;
        124|137) status="TIMED OUT"; FAILED=1 ;;
        *) status="FAILED ($rc)"; FAILED=1 ;;
    esac
    echo "| $name | $status | $((SECONDS - t0)) | $note |" >> "$SUMMARY"
    echo "== $name: $status in $((SECONDS - t0)) s"
}

skip() {
    echo "== $1: skipped ($2)"
    echo "| $1 | skipped | 0 | $2 |" >> "$SUMMARY"
}

phase facts 60 "see facts.log" "$PY" -c '
import platform, torch
print("torch", torch.__version__, "python", platform.python_version())
print("cuda available:", torch.cuda.is_available(), "devices:", torch.cuda.device_count())
for i in range(torch.cuda.device_count()):
    print(f"  cuda:{i}", torch.cuda.get_device_name(i), "capability", torch.cuda.get_device_capability(i),
          "bf16", torch.cuda.is_bf16_supported())
'
if [ "$DEVICE" = cuda ] && ! "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    echo "gpu_check.sh: --device cuda but torch sees no GPU here (use --device cpu for the dry check)" >&2
    echo "| cuda | FAILED | 0 | torch sees no GPU |" >> "$SUMMARY"
    exit 1
fi

phase tests "$T_TESTS" "pytest -m cuda (skip without a GPU)" \
    "$PY" -m pytest -q -p no:cacheprovider -m cuda -rs tests

phase recipes "$T_RECIPES" "$STEPS steps per run; table in recipes.md" \
    "$PY" benchmarks/gpu_check.py --device "$DEVICE" --out "$OUT" --steps "$STEPS" "${RECIPE_ARGS[@]}"

GPUS=0
if [ "$DEVICE" = cuda ]; then GPUS=$("$PY" -c 'import torch; print(torch.cuda.device_count())' 2>/dev/null || echo 0); fi
if [ "$DEVICE" != cuda ]; then
    skip nccl "NCCL needs CUDA; the gloo path is covered by tests/test_distributed.py"
elif [ "${GPUS:-0}" -lt 2 ]; then
    skip nccl "needs 2 GPUs, ${GPUS:-0} visible"
else
    phase nccl "$T_NCCL" "torchrun 2 processes, dcgan 20 steps" bash -c '
        set -e
        torchrun --standalone --nproc_per_node 2 -m ganzoo run recipes/dcgan.yaml --out "$1/runs/nccl" \
            --no-progress --set train.steps=20 --set train.log_every=5 --set train.sample_every=10 \
            --set train.checkpoint_every=10
        "$2" -c "import json,sys; m=json.load(open(sys.argv[1])); print(m[\"world_size\"], m[\"status\"]); \
            sys.exit(0 if m[\"world_size\"] == 2 and m[\"status\"] == \"done\" else 1)" "$1/runs/nccl/manifest.json"
    ' _ "$OUT" "$PY"
fi

if [ "$DEVICE" = cuda ]; then
    phase speed "$T_SPEED" "benchmarks/results/speed-cuda.{json,md}" \
        "$PY" benchmarks/speed.py --device cuda --quick --out benchmarks/results/speed-cuda \
        --note "benchmarks/gpu_check.sh"
elif [ "$FAST" = 1 ]; then
    phase speed "$T_SPEED" "one tiny engine job, written to $OUT/speed-cpu-dry.*" \
        "$PY" benchmarks/speed.py --device cpu --quick --workloads none recipes/wgan_gp_toy.yaml --variants engine \
        --steps 1 --warmup 0 --no-peak --set train.batch_size=16 --out "$OUT/speed-cpu-dry"
else
    phase speed "$T_SPEED" "plain loop and engine, 1 step each, written to $OUT/speed-cpu-dry.*" \
        "$PY" benchmarks/speed.py --device cpu --quick --workloads wgan_gp --variants plain,engine --steps 1 \
        --warmup 0 --no-peak --threads 1 --out "$OUT/speed-cpu-dry"
fi

{
    echo
    echo "Total: $((SECONDS - START)) s. Logs and runs: $OUT"
    if [ -f "$OUT/recipes.md" ]; then echo; sed 's/^# /## /' "$OUT/recipes.md"; fi
} >> "$SUMMARY"
if [ "$DEVICE" = cuda ]; then
    cp "$SUMMARY" benchmarks/results/gpu-check-cuda.md
    echo "wrote benchmarks/results/gpu-check-cuda.md and benchmarks/results/speed-cuda.{json,md}"
fi
echo
cat "$SUMMARY"
exit $FAILED
