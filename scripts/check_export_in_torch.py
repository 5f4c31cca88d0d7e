"""Checks `cnntui export --pytorch` against a real PyTorch: the exported project trains the recipe as cnntui does,
and a run crosses between the two engines keeping its numbers. Each numbered check is one function:

  2. MyCNN on Fashion-MNIST: one epoch in cnntui, exported, one more under `torchrun --nproc_per_node=2` on the
     CPU (resumed from the cnntui checkpoint), one more in cnntui (`cnntui resume` of the PyTorch session): test
     accuracy improves at each step, and `cnntui eval` of the PyTorch checkpoint equals what PyTorch reported.
  3. The same recipe from scratch, one epoch, in PyTorch (one process) and in cnntui over 5 seeds: the mean test
     accuracies are within 0.5 point.

    swift build -c release
    python3 scripts/check_export_in_torch.py [--checks 2,3] [--cnntui .build/release/cnntui] [--seeds 5] [--keep]

Run it with the python3 that has torch, safetensors and numpy (a venv's). Exits 1 and says what failed.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FASHION = ["--model", "mycnn", "--dataset", "fashion-mnist"]
# Check 2's recipe: Adam 1e-3, batch 64 (the README's comparison recipe), steadier from epoch to epoch than the
# seed's Adam 1e-2, whose test accuracy can dip by a few tenths of a point between epochs in cnntui alone.
STEADY = ["--lr", "0.001", "--batch-size", "64"]


class Context:
    """What every check needs: the binary, the python, a scratch directory and the sessions in it."""

    def __init__(self, args, work):
        self.binary, self.python, self.work = args.cnntui, args.python, work
        self.sessions = os.path.join(work, "sessions")
        self.seeds = args.seeds
        self.env = dict(os.environ, CNNTUI_SESSIONS=self.sessions, CNNTUI_ASSETS=os.path.join(REPO, "Assets"))

    def cnntui_json(self, *args):
        """Runs cnntui with --json; its JSON lines."""
        done = subprocess.run([self.binary, *args], env=self.env, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"cnntui {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
        return [json.loads(line) for line in done.stdout.splitlines() if line.strip().startswith("{")]

    def cnntui(self, *args):
        done = subprocess.run([self.binary, *args], env=self.env, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"cnntui {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
        return done.stdout

    def torch(self, project, *args, processes=1):
        """Runs the project's train.py (under torchrun when processes > 1); returns the session path it wrote."""
        command = [self.python, "train.py", *args]
        if processes > 1:
            command = [self.python, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
                       "train.py", *args]
        done = subprocess.run(command, cwd=project, env=self.env, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"{' '.join(command)} in {project} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        for line in done.stdout.splitlines():
            if line.startswith("session ") and " saved in " in line:
                return line.split(" saved in ")[1].split(",")[0]
        sys.exit(f"{' '.join(command)} did not say where its session is:\n{done.stdout}")


def train_state(session):
    with open(os.path.join(session, "checkpoints", "last", "train_state.json")) as f:
        return json.load(f)


def check_2_round_trip(ctx):
    """cnntui -> PyTorch (torchrun, 2 processes) -> cnntui, one epoch each."""
    started = time.time()
    first = ctx.cnntui_json("train", *FASHION, *STEADY, "--epochs", "1", "--json")[-1]
    session1 = first["session_path"]
    accuracy1 = train_state(session1)["last_test_accuracy"]
    project = os.path.join(ctx.work, "round-trip")
    ctx.cnntui("export", session1, "--pytorch", project)

    session2 = ctx.torch(project, "--resume", "checkpoint", "--epochs", "2", processes=2)
    state2 = train_state(session2)
    accuracy2 = state2["last_test_accuracy"]
    evaluated = ctx.cnntui_json("eval", session2, "--json")[0]

    ctx.cnntui_json("resume", session2, "--epochs", "3", "--json")
    state3 = train_state(session2)
    accuracy3 = state3["last_test_accuracy"]
    with open(os.path.join(session2, "metrics.jsonl")) as f:
        epochs = [json.loads(line) for line in f if '"kind":"epoch"' in line]

    # For comparison only: the same three epochs in cnntui alone.
    alone = [line["test_accuracy"] for line in ctx.cnntui_json("train", *FASHION, *STEADY, "--epochs", "3", "--json")
             if line.get("event") == "epoch"]
    print(f"check 2: mycnn on fashion-mnist (adam 1e-3, batch 64), epoch 1 in cnntui, 2 under torchrun "
          f"--nproc_per_node=2 (CPU), 3 in cnntui ({time.time() - started:.0f}s)")
    print(f"  test accuracy by epoch: {accuracy1:.4f} (cnntui) -> {accuracy2:.4f} (torch, 2 ranks) -> "
          f"{accuracy3:.4f} (cnntui resume)")
    print(f"  cnntui eval of the torch checkpoint: accuracy {evaluated['accuracy']:.4f} loss {evaluated['loss']:.4f}; "
          f"torch reported {accuracy2:.4f}")
    print(f"  cnntui alone, same recipe and seed: {' -> '.join(f'{a:.4f}' for a in alone)}")
    print(f"  the session's epoch lines: {[(e['epoch'], round(e['test_accuracy'], 4)) for e in epochs]}, "
          f"global step {state3['global_step']}")
    failures = []
    if not accuracy1 < accuracy2 < accuracy3:
        failures.append(f"accuracy did not keep improving: {accuracy1} {accuracy2} {accuracy3}")
    if abs(evaluated["accuracy"] - accuracy2) > 0.5 / 10000:
        failures.append(f"cnntui eval {evaluated['accuracy']} differs from torch's {accuracy2}")
    if [e["epoch"] for e in epochs] != [1, 2, 3]:
        failures.append(f"the session's history is not epochs 1, 2, 3: {[e['epoch'] for e in epochs]}")
    return failures


def check_3_from_scratch(ctx):
    """The seed recipe from scratch, one epoch, in both engines, over several seeds."""
    started = time.time()
    project = os.path.join(ctx.work, "from-scratch")
    ctx.cnntui("export", *FASHION, "--epochs", "1", "--pytorch", project)
    ours, theirs = [], []
    for seed in range(1, ctx.seeds + 1):
        run = ctx.cnntui_json("train", *FASHION, "--epochs", "1", "--seed", str(seed), "--json")[-1]
        ours.append(train_state(run["session_path"])["last_test_accuracy"])
        theirs.append(train_state(ctx.torch(project, "--seed", str(seed)))["last_test_accuracy"])
        print(f"  seed {seed}: cnntui {ours[-1]:.4f}, torch {theirs[-1]:.4f}", flush=True)
    mean_ours, mean_theirs = statistics.mean(ours), statistics.mean(theirs)
    print(f"check 3: mycnn on fashion-mnist from scratch, 1 epoch, seeds 1-{ctx.seeds} ({time.time() - started:.0f}s)")
    print(f"  mean test accuracy: cnntui {100 * mean_ours:.2f}% (sd {100 * statistics.pstdev(ours):.2f}), "
          f"torch {100 * mean_theirs:.2f}% (sd {100 * statistics.pstdev(theirs):.2f}), "
          f"difference {100 * (mean_theirs - mean_ours):+.2f} points")
    if abs(mean_ours - mean_theirs) > 0.005:
        return [f"mean accuracies differ by {100 * abs(mean_ours - mean_theirs):.2f} points (more than 0.5)"]
    return []


# The numbered checks; 1 (every zoo family's logits) and 4 (ONNX, TensorBoard) join here.
CHECKS = {2: check_2_round_trip, 3: check_3_from_scratch}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checks", default=",".join(map(str, CHECKS)), help="which checks, e.g. 2,3")
    parser.add_argument("--cnntui", default=os.path.join(REPO, ".build", "release", "cnntui"))
    parser.add_argument("--python", default=sys.executable, help="the python with torch that runs train.py")
    parser.add_argument("--seeds", type=int, default=5, help="seeds for check 3")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args()
    chosen = [int(c) for c in args.checks.split(",") if c.strip()]
    unknown = [c for c in chosen if c not in CHECKS]
    if unknown:
        sys.exit(f"--checks: no check {unknown[0]} (known: {', '.join(map(str, CHECKS))})")

    work = tempfile.mkdtemp(prefix="cnntui-export-check-")
    failures = []
    try:
        ctx = Context(args, work)
        for number in chosen:
            failures += [f"check {number}: {problem}" for problem in CHECKS[number](ctx)]
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if failures:
        sys.exit("FAILED: " + "; ".join(failures))
    print(f"OK: passed check {', '.join(map(str, chosen))}")


if __name__ == "__main__":
    main()
