#!/usr/bin/env bash
# The Crafter protocol on one GPU machine, unattended: craftlab's PPO recipe
# (configs/levine/ppo_crafter.yaml, published 15.6 +- 1.7) and Achievement Distillation
# (configs/levine/ad_crafter.yaml, published 21.8 +- 1.4), both with the full IMPALA
# [64, 128, 128] + dense 1024 network, 1M env steps each, side by side (one GPU, env
# workers in subprocesses: 8 per run, 16 on a 16-core machine), then the scores files
# (scores/crafter_reward-<method>.json, the crafter repository's format) and the report
# (report.png, report.json: scores beside the published ones, curves, achievements).
#
#   bash benchmarks/crafter_gpu.sh                       # 1M steps each, at most MINUTES per run
#   STEPS=200000 MINUTES=4 bash benchmarks/crafter_gpu.sh
#   DEVICE=cpu STEPS=4096 EXTRA="--set algo.num_steps=128 ..." bash benchmarks/crafter_gpu.sh   # smoke test
#
# Sized for about ten minutes: both runs train at once and each stops at MINUTES (default 9)
# of wall-clock if it has not reached STEPS by then (SIGTERM: it finishes its update, saves,
# writes summary.json). A run stopped early is scored on the steps it reached, which the
# summary says: only a run that reached 1M steps is comparable with the published scores.
#
# Settings (environment variables):
#   STEPS    env steps per run (default 1000000)      MINUTES  wall-clock cap per run (default 9)
#   OUT      output folder (default runs/crafter_gpu_<time>)
#   SEED     train.seed (default 0)                   DEVICE   cuda (default) | cpu | auto
#   VECTOR   train.vector (default async)             THREADS  train.torch_threads per run (default 2)
#   RUNS     configs to run (default "ppo_crafter ad_crafter", from configs/levine/)
#   PYTHON   interpreter (default .venv/bin/python, else python3)
#   EXTRA    more train.py arguments for every run (e.g. --set overrides)
#   EXTRA_<run>  more for one run, e.g. EXTRA_ad_crafter="--set algo.n_pi=2"
set -euo pipefail
cd "$(dirname "$0")/.."

STEPS=${STEPS:-1000000}
MINUTES=${MINUTES:-9}
OUT=${OUT:-runs/crafter_gpu_$(date +%Y%m%d_%H%M%S)}
SEED=${SEED:-0}
DEVICE=${DEVICE:-cuda}
VECTOR=${VECTOR:-async}
THREADS=${THREADS:-2}
RUNS=${RUNS:-"ppo_crafter ad_crafter"}
EXTRA=${EXTRA:-}
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi

mkdir -p "$OUT"
echo "crafter_gpu: $STEPS steps per run, cap $MINUTES min, device $DEVICE, $(nproc) cores, output $OUT"
if [[ "$DEVICE" == "cuda" ]]; then
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
    if ! "$PYTHON" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
        echo "error: DEVICE=cuda but torch sees no GPU (python: $PYTHON); run on a GPU machine or set DEVICE=cpu" >&2
        exit 2
    fi
fi
"$PYTHON" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"

declare -A PIDS
for run in $RUNS; do
    config="configs/levine/$run.yaml"
    own="EXTRA_$run"
    [[ -f "$config" ]] || { echo "error: no config $config" >&2; exit 2; }
    # shellcheck disable=SC2086  # EXTRA is a list of arguments
    timeout --signal=TERM --kill-after=300 "${MINUTES}m" \
        "$PYTHON" train.py "$config" --run-dir "$OUT/$run" --seed "$SEED" --device "$DEVICE" \
        --set "train.total_timesteps=$STEPS" --set "train.vector=$VECTOR" --set "train.torch_threads=$THREADS" \
        --set train.progress_bar=false --set train.checkpoint_interval=250000 $EXTRA ${!own:-} \
        >"$OUT/$run.log" 2>&1 &
    PIDS[$run]=$!
    echo "started $run (pid ${PIDS[$run]}): $config -> $OUT/$run, log $OUT/$run.log"
done

status=0
for run in $RUNS; do
    code=0
    wait "${PIDS[$run]}" || code=$?
    case $code in
        0) echo "$run: finished" ;;
        124) echo "$run: stopped at the ${MINUTES}-minute cap (saved; scored on the steps it reached)" ;;
        *) echo "$run: failed with exit status $code; last lines of $OUT/$run.log:" >&2
           tail -n 20 "$OUT/$run.log" >&2; status=1 ;;
    esac
done

groups=()
names=()
for run in $RUNS; do
    if [[ -f "$OUT/$run/episodes.jsonl" ]]; then groups+=("$OUT/$run"); names+=("$run"); fi
done
if [[ ${#groups[@]} -eq 0 ]]; then
    echo "error: no run finished an episode; see the logs in $OUT" >&2
    exit 1
fi
"$PYTHON" train.py report "${groups[@]}" --names "${names[@]}" --out "$OUT/report.png" --json "$OUT/report.json" \
    --title "Crafter, craftlab on $(nproc) cores + ${DEVICE}, seed $SEED" | tee "$OUT/report.txt"

# one line per run: steps reached, steps/s, the benchmark's Crafter score (training episodes)
"$PYTHON" - "$OUT" $RUNS <<'PY'
import json, sys
from pathlib import Path
out, runs = Path(sys.argv[1]), sys.argv[2:]
for run in runs:
    path = out / run / "summary.json"
    if not path.exists():
        print(f"{run}: no summary.json")
        continue
    s = json.loads(path.read_text())
    steps, wall = s.get("num_timesteps", 0), s.get("wall_time_s") or s.get("wall_time") or 0
    score = s.get("crafter_score")
    note = "" if steps >= 1_000_000 else f"  (at {steps} steps: not the 1M protocol)"
    print(f"{run}: {steps} steps" + (f", {steps / wall:.0f} steps/s" if wall else "")
          + (f", Crafter score {score:.2f}%" if isinstance(score, (int, float)) else "") + note)
PY
echo "scores files: $(ls "$OUT"/*/scores/*.json 2>/dev/null | tr '\n' ' ')"
echo "report: $OUT/report.png, $OUT/report.json"
exit $status
