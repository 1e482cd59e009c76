#!/usr/bin/env bash
# Reproduces the README's comparison of critic options and its conditional result: a
# class-conditional DCGAN at the README's DCGAN budget (1,000 generator iterations on
# mnist_5k), then WGAN-GP with the one-centred penalty (Algorithm 1), its sibling with the
# zero-centred penalty (wgan_r1/) and the hinge loss with spectral norm (sngan/), each for
# 500 generator iterations with the same seed. About 45 minutes on 2 CPU cores. Run from the repository root:
#     bash scripts/options_results.sh [RUNS_DIR]
set -euo pipefail
runs=${1:-runs/options}
mkdir -p "$runs" docs/figures

while read -r name steps variant flags; do
  if [ -f "$runs/$name.metrics.txt" ]; then continue; fi  # done already: rerun by deleting it
  start=$(date +%s)
  touch "$runs/$name.log"; logged=$(wc -c < "$runs/$name.log")  # a failed start says why: its error line
  python "$variant/train.py" --dataset=mnist_5k --train_steps="$steps" --logdir="$runs/$name" \
    --sample_every=250 --log_every=50 $flags >> "$runs/$name.log" 2>&1 \
    || { status=$?; tail -c +$((logged + 1)) "$runs/$name.log" | { grep '^error: ' || true; } | tail -n 1 >&2; exit "$status"; }
  echo "$name: $steps generator iterations in $(( $(date +%s) - start )) s" | tee -a "$runs/times.txt"
  python -m commands.evaluate --logdir="$runs/$name" | tee "$runs/$name.metrics.txt"
  cp "$runs/$name/samples/step_$(printf %07d "$steps").png" "docs/figures/${name}_mnist_5k.png"
done <<'SPECS'
dcgan_conditional 1000 dcgan --conditional
wgan_r1 500 wgan_r1
sngan 500 sngan
wgan_gp_one_centred 500 wgan_gp
SPECS
