"""Checks `cnntui export --pytorch` against a real PyTorch: the exported project trains the recipe as cnntui does,
and a run crosses between the two engines keeping its numbers. Each numbered check is one function:

  1. Every zoo family (default variants) and Assets/models/tiny-resnet.cnn, at 1x28x28 and 3x32x32, trained a few steps in cnntui and exported:
     the generated model.py loads the checkpoint strictly and gives cnntui's logits within 1e-4.
  2. MyCNN on Fashion-MNIST: one epoch in cnntui, exported, one more under `torchrun --nproc_per_node=2` on the
     CPU (resumed from the cnntui checkpoint), one more in cnntui (`cnntui resume` of the PyTorch session): test
     accuracy improves at each step, and `cnntui eval` of the PyTorch checkpoint equals what PyTorch reported.
  3. The same recipe from scratch, one epoch, in PyTorch (one process) and in cnntui over 5 seeds: the mean test
     accuracies are within 0.5 point.
  4. export_onnx.py's model.onnx, run by onnxruntime, gives cnntui's logits within 1e-4 of the largest; `cnntui export
     --tensorboard` read back by TensorBoard's own reader holds the session's metrics exactly.

    swift build -c release
    python3 scripts/check_export_in_torch.py [--checks 1,2,3,4] [--cnntui .build/release/cnntui] [--seeds 5] [--keep]

Run it with the python3 that has torch, safetensors and numpy (a venv's); check 4 also needs onnx, onnxscript,
onnxruntime and tensorboard. Exits 1 and says what failed.
"""
import argparse
import gzip
import importlib
import json
import math
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zlib

import numpy as np

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


FAMILIES = ["mycnn", "resnet", "se-resnet", "vgg", "mobilenet-v1", "shufflenet-v1", "shufflenet-v2", "efficientnet-v2"]
# A network written as a spec file exports like the zoo's (the README's own, with ReLU6 and an inferred projection).
SPEC_EXAMPLE = os.path.join(REPO, "Assets", "models", "tiny-resnet.cnn")
FASHION_TEST_IMAGES = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"


def write_png(path, pixels):
    """An 8-bit PNG of pixels [H, W] (grey) or [H, W, 3] (RGB), with the standard library only."""
    height, width = pixels.shape[:2]
    raw = b"".join(b"\x00" + pixels[y].tobytes() for y in range(height))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2 if pixels.ndim == 3 else 0, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9))
                + chunk(b"IEND", b""))


class Pictures:
    """Test pictures as PNG files (for `cnntui predict`) and as the normalised batch PyTorch takes."""

    def __init__(self, pixels, directory, name):
        self.pixels = pixels  # [N, H, W] or [N, H, W, 3], uint8
        os.makedirs(directory, exist_ok=True)
        self.paths = [os.path.join(directory, f"{name}{i}.png") for i in range(len(pixels))]
        for path, picture in zip(self.paths, pixels):
            write_png(path, picture)

    def batch(self, session):
        """[N, C, H, W] normalised with the session's mean and std, as cnntui's loader does."""
        import torch
        with open(os.path.join(session, "dataset.json")) as f:
            dataset = json.load(f)
        x = torch.from_numpy(self.pixels.astype(np.float32) / 255)
        x = x.unsqueeze(1) if x.dim() == 3 else x.permute(0, 3, 1, 2)
        mean = torch.tensor(dataset["mean"]).view(1, -1, 1, 1)
        std = torch.tensor(dataset["std"]).view(1, -1, 1, 1)
        return ((x - mean) / std).contiguous()


def colour_folder(root, per_class=24, side=32, classes=4):
    """A small RGB image-folder dataset (ROOT/train/CLASS, ROOT/test/CLASS): each class its own colour and band."""
    rng = np.random.default_rng(0)
    for split, count in (("train", per_class), ("test", per_class // 2)):
        for c in range(classes):
            folder = os.path.join(root, split, f"class{c}")
            os.makedirs(folder, exist_ok=True)
            for i in range(count):
                picture = rng.integers(0, 80, (side, side, 3), dtype=np.uint8)
                picture[:, :, c % 3] += 100
                picture[c * side // classes:(c + 1) * side // classes] += 60
                write_png(os.path.join(folder, f"{i:03d}.png"), picture)
    return root


def fashion_pictures(count):
    with gzip.open(FASHION_TEST_IMAGES, "rb") as f:
        data = f.read()
    return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(-1, 28, 28)[:count].copy()


def import_model(project):
    """The project's model.py, imported afresh (every project has its own model and layers modules)."""
    for name in ("model", "layers"):
        sys.modules.pop(name, None)
    sys.path.insert(0, project)
    try:
        return importlib.import_module("model")
    finally:
        sys.path.remove(project)


def cnntui_logits(ctx, session, pictures):
    import torch
    predicted = ctx.cnntui_json("predict", "--session", session, "--checkpoint", "last", "--json", *pictures.paths)
    return torch.tensor([p["logits"] for p in predicted])


def check_1_models(ctx):
    """Every zoo family's default variant and the shipped spec-file network at 1x28x28 (Fashion-MNIST) and 3x32x32
    (a colour image folder),
    trained a few steps in cnntui so BatchNorm's statistics are its own, exported: the generated model.py loads
    the checkpoint strictly and gives cnntui's logits within 1e-4."""
    import torch
    from safetensors.torch import load_file
    started = time.time()
    folder = colour_folder(os.path.join(ctx.work, "colour"))
    datasets = [("fashion-mnist", "1x28x28", Pictures(fashion_pictures(8), os.path.join(ctx.work, "pictures"), "fashion")),
                (folder, "3x32x32", Pictures(np.random.default_rng(1).integers(0, 256, (8, 32, 32, 3), dtype=np.uint8),
                                             os.path.join(ctx.work, "pictures"), "colour"))]
    print("check 1: every zoo family exported; model.py loads cnntui's checkpoint strictly, logits on 8 pictures")
    failures, worst = [], 0.0
    for dataset, shape, pictures in datasets:
        for model in FAMILIES + [SPEC_EXAMPLE]:
            end = ctx.cnntui_json("train", "--model", model, "--dataset", dataset, "--epochs", "1", "--limit-train", "96",
                                  "--limit-test", "32", "--batch-size", "32", "--json")[-1]
            session = end["session_path"]
            name = os.path.basename(model)
            project = os.path.join(ctx.work, "models", f"{name}-{shape}")
            ctx.cnntui("export", session, "--pytorch", project)
            network = import_model(project).build_model()
            try:
                network.load_state_dict(load_file(os.path.join(session, "checkpoints", "last", "model.safetensors")),
                                        strict=True)
            except RuntimeError as error:
                failures.append(f"{model} at {shape}: strict load failed: {error}")
                continue
            network.eval()
            with torch.no_grad():
                ours = network(pictures.batch(session))
            difference = (ours - cnntui_logits(ctx, session, pictures)).abs().max().item()
            worst = max(worst, difference)
            print(f"  {name:16s} {shape}  {sum(p.numel() for p in network.parameters()):>11,} parameters  "
                  f"largest logit difference {difference:.1e}")
            if not difference <= 1e-4:
                failures.append(f"{model} at {shape}: logits differ from cnntui's by {difference:.2e}")
    print(f"  largest difference over all {2 * len(FAMILIES) + 2}: {worst:.1e} (bound 1e-4) ({time.time() - started:.0f}s)")
    return failures


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


def check_4_onnx_and_tensorboard(ctx):
    """export_onnx.py's model.onnx run by onnxruntime gives cnntui's logits; the TensorBoard export read back
    by TensorBoard's own reader holds the session's metrics."""
    import onnxruntime
    started = time.time()
    failures = []
    pictures = Pictures(fashion_pictures(8), os.path.join(ctx.work, "pictures"), "onnx")
    print("check 4: ONNX through onnxruntime against cnntui's logits; TensorBoard read back by its own reader")
    for model in ("mycnn", "shufflenet-v2"):
        # Two epochs of 20 steps: four step records and two evaluations for the TensorBoard export.
        end = ctx.cnntui_json("train", "--model", model, "--dataset", "fashion-mnist", "--epochs", "2",
                              "--limit-train", "1280", "--limit-test", "200", "--batch-size", "64", "--json")[-1]
        session = end["session_path"]
        project = os.path.join(ctx.work, "onnx", model)
        ctx.cnntui("export", session, "--pytorch", project)
        done = subprocess.run([ctx.python, "export_onnx.py", "checkpoint", "--out", "model.onnx"], cwd=project,
                              env=ctx.env, capture_output=True, text=True)
        if done.returncode != 0:
            failures.append(f"export_onnx.py for {model} failed:\n{done.stderr[-2000:]}")
            continue
        runtime = onnxruntime.InferenceSession(os.path.join(project, "model.onnx"), providers=["CPUExecutionProvider"])
        (logits,) = runtime.run(None, {"images": pictures.batch(session).numpy()})
        theirs = cnntui_logits(ctx, session, pictures).numpy()
        difference = float(np.abs(logits - theirs).max())
        # Trained logits run to tens: the bound is 1e-4 relative to the largest one (absolute below 1), float32
        # sums taken in another order by another library's kernels.
        scale = max(1.0, float(np.abs(theirs).max()))
        print(f"  {model:16s} model.onnx ({os.path.getsize(os.path.join(project, 'model.onnx')):,} bytes): "
              f"largest logit difference from cnntui {difference:.1e}, largest logit {scale:.1f}")
        if not difference <= 1e-4 * scale:
            failures.append(f"{model}: onnxruntime's logits differ from cnntui's by {difference:.2e} (largest logit {scale:.1f})")
        if model == "mycnn":
            try:
                for line in check_tensorboard(ctx, session):
                    print("  " + line)
            except AssertionError as error:
                failures.append(f"tensorboard: {error}")
    print(f"  ({time.time() - started:.0f}s)")
    return failures


TAGS = {"train_loss": "train/loss", "train_accuracy": "train/accuracy", "lr": "train/lr",
        "lr_manual": "train/lr_set_by_hand", "test_loss": "test/loss", "test_accuracy": "test/accuracy",
        "confusion": "test/confusion_matrix"}


def same_float32(read, recorded):
    """The metrics' decimal text is the shortest that gives cnntui's float32: rounded to float32 it is the
    value the event file must hold, exactly (NaN as NaN)."""
    expected = struct.unpack("<f", struct.pack("<f", recorded))[0]
    return read == expected or (math.isnan(read) and math.isnan(expected))


def check_tensorboard(ctx, session_dir):
    """Exports `session_dir` with `cnntui export --tensorboard` and reads it back with TensorBoard's own reader:
    every scalar against metrics.jsonl (train/loss, train/accuracy and train/lr at each step record,
    train/lr_set_by_hand at each rate set by hand, test/loss and test/accuracy at each epoch, at the run's global
    steps, and no point the metrics lack), one confusion-matrix PNG per evaluated epoch at its step, wall times
    within the session's own. Returns the lines to print; raises AssertionError saying what differs."""
    from tensorboard.backend.event_processing import event_accumulator

    export_dir = os.path.join(ctx.work, "tensorboard")
    ctx.cnntui("export", session_dir, "--tensorboard", export_dir)
    files = sorted(f for f in os.listdir(export_dir) if f.startswith("events.out.tfevents."))
    assert len(files) == 1, f"expected one event file in {export_dir}, found {files}"

    with open(os.path.join(session_dir, "metrics.jsonl")) as f:
        records = [json.loads(line) for line in f if line.strip()]
    steps = [r for r in records if r["kind"] == "step"]
    epochs = [r for r in records if r["kind"] == "epoch" and r.get("test_loss") is not None]
    manual = [r for r in records if r["kind"] == "lr" and r.get("lr_change") == "manual"]
    expected = {
        TAGS["train_loss"]: [(r["global_step"], r["loss"]) for r in steps],
        TAGS["train_accuracy"]: [(r["global_step"], r["accuracy"]) for r in steps],
        TAGS["lr"]: [(r["global_step"], r["lr"]) for r in steps],
        TAGS["lr_manual"]: [(r["global_step"], r["lr"]) for r in manual],
        TAGS["test_loss"]: [(r["global_step"], r["test_loss"]) for r in epochs],
        TAGS["test_accuracy"]: [(r["global_step"], r["test_accuracy"]) for r in epochs],
    }
    expected = {tag: points for tag, points in expected.items() if points}

    # size_guidance 0: keep every point (the default samples scalars down to 10000 and images to 4).
    acc = event_accumulator.EventAccumulator(export_dir, size_guidance={event_accumulator.SCALARS: 0,
                                                                        event_accumulator.IMAGES: 0})
    acc.Reload()
    tags = acc.Tags()
    assert acc.file_version == 2.0, f"file version {acc.file_version}, not brain.Event:2"
    assert sorted(tags["scalars"]) == sorted(expected), f"scalar tags {sorted(tags['scalars'])}, expected {sorted(expected)}"
    lines = [f"tensorboard: {files[0]} read by EventAccumulator ({os.path.getsize(os.path.join(export_dir, files[0]))} bytes)"]
    times = []
    for tag, points in expected.items():
        got = acc.Scalars(tag)
        assert len(got) == len(points), f"{tag}: {len(got)} points, metrics.jsonl has {len(points)}"
        for event, (step, value) in zip(got, points):
            assert event.step == step, f"{tag}: step {event.step} where metrics.jsonl has {step}"
            assert same_float32(event.value, value), f"{tag} at step {step}: {event.value}, metrics.jsonl has {value}"
            times.append(event.wall_time)
        lines.append(f"  {tag}: {len(got)} points equal metrics.jsonl as float32 (steps {points[0][0]}..{points[-1][0]})")

    images = acc.Images(TAGS["confusion"]) if TAGS["confusion"] in tags["images"] else []
    assert [i.step for i in images] == [r["global_step"] for r in epochs], \
        f"confusion pictures at steps {[i.step for i in images]}, epochs end at {[r['global_step'] for r in epochs]}"
    with open(os.path.join(session_dir, "dataset.json")) as f:
        classes = len(json.load(f)["class_names"])
    for image in images:
        png = image.encoded_image_string
        assert png[:8] == b"\x89PNG\r\n\x1a\n", f"confusion picture at step {image.step} is not a PNG"
        width, height = struct.unpack(">II", png[16:24])
        assert (width, height) == (image.width, image.height), \
            f"picture at step {image.step}: PNG is {width}x{height}, its event says {image.width}x{image.height}"
        assert min(width, height) >= classes, f"picture at step {image.step}: {width}x{height} for {classes} classes"
        times.append(image.wall_time)
    if images:
        lines.append(f"  {TAGS['confusion']}: {len(images)} PNG pictures ({images[0].width}x{images[0].height}), "
                     f"one per epoch")

    events_path = os.path.join(session_dir, "events.jsonl")
    if os.path.exists(events_path):
        with open(events_path) as f:
            session_times = [json.loads(line)["time"] for line in f if line.strip()]
        assert all(min(session_times) <= t <= max(session_times) for t in times), \
            "wall times outside the session's own (events.jsonl)"
        lines.append("  wall times within the session's events.jsonl times")
    return lines



CHECKS = {1: check_1_models, 2: check_2_round_trip, 3: check_3_from_scratch, 4: check_4_onnx_and_tensorboard}


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
