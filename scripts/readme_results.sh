#!/usr/bin/env bash
# Reproduces the README's results: trains each variant on the bundled mnist_5k at the
# README's budgets, evaluates the last checkpoint, and copies the final sample grids
# to docs/figures/. About an hour on 2 CPU cores. Run from the repository root:
#     bash scripts/readme_results.sh [RUNS_DIR]
set -euo pipefail
runs=${1:-runs/readme}
mkdir -p "$runs" docs/figures

for spec in "dcgan 1000" "wgan_gp 1500" "wgan 1500"; do
  set -- $spec
  variant=$1 steps=$2
  start=$(date +%s)
  touch "$runs/$variant.log"; logged=$(wc -c < "$runs/$variant.log")  # a failed start says why: its error line
  python "$variant/train.py" --dataset=mnist_5k --train_steps="$steps" --logdir="$runs/$variant" \
    --sample_every=250 --log_every=50 >> "$runs/$variant.log" 2>&1 \
    || { status=$?; tail -c +$((logged + 1)) "$runs/$variant.log" | { grep '^error: ' || true; } | tail -n 1 >&2; exit "$status"; }
  echo "$variant: $steps generator iterations in $(( $(date +%s) - start )) s" | tee -a "$runs/times.txt"
  python -m commands.evaluate --logdir="$runs/$variant" | tee "$runs/$variant.metrics.txt"
  cp "$runs/$variant/samples/step_$(printf %07d "$steps").png" "docs/figures/${variant}_mnist_5k.png"
done
