#!/usr/bin/env bash
# Recipe sweep (exploration on a GPU machine; the shipped checkpoints train on the CPU):
# trains several recipes of one stage at once with EMA snapshots, then judges every snapshot
# on held-out items. STAGE=base judges whole edits; STAGE=sr trains the SR stage alone and
# judges it on each item's true low-resolution image (the ceiling the first stage can reach).
#   OUT=dir MINUTES=4.5 STAGE=base|sr DEVICE=cuda bash bench/recipe_sweep.sh
set -u
OUT=${OUT:-var/sweep}; MINUTES=${MINUTES:-4.5}; ITEMS=${ITEMS:-100}; STAGE=${STAGE:-base}
DEVICE=${DEVICE:-cuda}; SNAPS=${SNAPS:-1000,2000,4000,7000,10000,14000,20000,28000}
PY=${PY:-python3}
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
declare -A RECIPES
if [ "$STAGE" = sr ]; then
  RECIPES=(
    [sr16]="--sr-only --batch 16 --lr 1e-3"
    [sr32lr2]="--sr-only --batch 32 --lr 2e-3"
    [srwide]="--sr-only --batch 16 --lr 1e-3 --sr-channels 32,64,96"
    [srwide32]="--sr-only --batch 32 --lr 2e-3 --sr-channels 32,64,96"
  )
  EVAL="--ceiling"
else
  RECIPES=(
    [b16]="--batch 16 --lr 1e-3"
    [b32]="--batch 32 --lr 1e-3"
    [b16lr2]="--batch 16 --lr 2e-3"
    [b64lr2]="--batch 64 --lr 2e-3"
    [wide]="--batch 16 --lr 1e-3 --base-channels 48,96,144"
    [narrow]="--batch 16 --lr 1e-3 --base-channels 24,48,64"
  )
  EVAL=""
fi
mkdir -p "$OUT"
for name in "${!RECIPES[@]}"; do
  $PY -m inference.train --name "$name" --policy object --seed 0 ${RECIPES[$name]} \
    --max-minutes "$MINUTES" --sr-every 1000000 --sr-check 4 --threads 2 --device "$DEVICE" \
    --snapshots "$SNAPS" --state-dir "$OUT/$name" --out "$OUT/$name" >"$OUT/$name.train.log" 2>&1 &
done
wait
for name in "${!RECIPES[@]}"; do
  tail -c 300 "$OUT/$name.train.log" | tr '\r' '\n' | tail -n 2
  snaps=$(ls "$OUT/$name"/"$name"-*.pt | sort -t- -k2 -n)
  $PY -m bench.recipe_sweep $snaps $EVAL --items "$ITEMS" --device "$DEVICE" --threads 2 \
    >"$OUT/$name.jsonl" 2>"$OUT/$name.eval.log" &
done
wait
cat "$OUT"/*.jsonl
