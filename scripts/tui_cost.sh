#!/usr/bin/env bash
# What the dashboard costs the training: the same run headless (`cnntui train`) and with the dashboard open
# (`cnntui --model M --dataset D ...` in a tmux window of COLSxROWS, redrawing live), in turn, ROUNDS times.
# Prints each run's training images/s (the epoch's images over its training seconds, as the engine counts
# them for the events file's evaluation line), the dashboard's share of headless (median over the rounds), and
# the CPU time of the dashboard's UI thread against the whole process's: on a loaded machine the rates move
# by 10 % from run to run, while the CPU time says what drawing costs.
#
#   scripts/tui_cost.sh [MODEL] [ROUNDS] [COLSxROWS]      e.g. scripts/tui_cost.sh resnet 3 160x48
#
# Environment: CNNTUI (the binary; default .build/release/cnntui), LIMIT (training images, default 19200),
# THREADS (default 2). Needs tmux and Fashion-MNIST.
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-mycnn}; rounds=${2:-3}; size=${3:-160x48}
cnntui=$(realpath "${CNNTUI:-.build/release/cnntui}")
limit=${LIMIT:-19200}; threads=${THREADS:-2}
work=$(mktemp -d); trap 'tmux kill-session -t cnntui-cost 2>/dev/null || true; rm -rf "$work"' EXIT
recipe=(--model "$model" --dataset fashion-mnist --epochs 1 --limit-train "$limit" --limit-test 1000
        --batch-size 64 --optimizer adam --lr 0.001 --augment none --schedule constant --seed 1 --threads "$threads")

# The training images/s of the one evaluation line in a session's events file.
rate() { grep '"type":"evaluation"' "$1"/*/events.jsonl | grep -o '"images_per_second":[0-9.e+]*' | cut -d: -f2; }

headless=(); dashboard=()
for round in $(seq "$rounds"); do
  "$cnntui" train "${recipe[@]}" --sessions-dir "$work/h$round" > /dev/null 2>&1
  headless+=("$(rate "$work/h$round")")

  tmux new-session -d -s cnntui-cost -x "${size%x*}" -y "${size#*x}" \
    "env TERM=xterm-256color '$cnntui' ${recipe[*]} --sessions-dir '$work/d$round'"
  until grep -qs '"type":"finished"' "$work/d$round"/*/events.jsonl; do sleep 1; done
  # CPU time (clock ticks) of the UI thread (the process's first) against the whole process's.
  pid=$(tmux display -p -t cnntui-cost '#{pane_pid}')
  ui=$(awk '{print $14 + $15}' "/proc/$pid/task/$pid/stat"); all=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  tmux send-keys -t cnntui-cost q; sleep 1; tmux kill-session -t cnntui-cost 2>/dev/null || true
  dashboard+=("$(rate "$work/d$round")")
  echo "round $round: headless ${headless[-1]} img/s, dashboard at $size ${dashboard[-1]} img/s;" \
       "the UI thread used $ui of the process's $all CPU ticks" >&2
done
python3 - "${headless[*]}" "${dashboard[*]}" <<'EOF'
import statistics, sys
h, d = ([float(x) for x in a.split()] for a in sys.argv[1:3])
print(f"headless {statistics.median(h):,.0f} img/s, dashboard {statistics.median(d):,.0f} img/s: "
      f"{statistics.median(d) / statistics.median(h):.1%} of headless (medians of {len(h)})")
EOF
