"""Checks cnntui's TensorBoard export with TensorBoard's own reader: exports a session
(`cnntui export SESSION --tensorboard DIR`), reads DIR back with
`tensorboard.backend.event_processing.event_accumulator.EventAccumulator`, and checks
  - every scalar against the session's metrics.jsonl: train/loss, train/accuracy and train/lr at each step
    record, train/lr_set_by_hand at each learning rate set by hand, test/loss and test/accuracy at each epoch,
    all at the run's global steps, and no point the metrics do not have;
  - one test/confusion_matrix picture per evaluated epoch, at the epoch's global step, a PNG of the size its
    event says;
  - the wall times lie within the session's own (its events.jsonl).

    swift build -c release
    python3 scripts/check_tensorboard_export.py [--cnntui .build/release/cnntui] [--session PATH]
        [--export-dir DIR] [--keep]

Without --session it trains a 1-epoch tiny mycnn on Fashion-MNIST first; with --export-dir it checks an
export already written there instead of running `cnntui export`. Exits 1 saying what differs. Needs the
`tensorboard` package (and numpy, which it brings).
"""
import argparse
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TAGS = {"train_loss": "train/loss", "train_accuracy": "train/accuracy", "lr": "train/lr",
        "lr_manual": "train/lr_set_by_hand", "test_loss": "test/loss", "test_accuracy": "test/accuracy",
        "confusion": "test/confusion_matrix"}


def same_float32(read, recorded):
    """The metrics' decimal text is the shortest that gives cnntui's float32: rounded to float32 it is the
    value the event file must hold, exactly (NaN as NaN)."""
    expected = struct.unpack("<f", struct.pack("<f", recorded))[0]
    return read == expected or (math.isnan(read) and math.isnan(expected))


def check_tensorboard(cnntui, session_dir, work_dir, export_dir=None):
    """Exports `session_dir` into `work_dir`/tensorboard with `cnntui export` (unless `export_dir` holds an
    export already) and checks it with TensorBoard's reader. Returns the lines to print; raises
    AssertionError saying what differs."""
    from tensorboard.backend.event_processing import event_accumulator

    if export_dir is None:
        export_dir = os.path.join(work_dir, "tensorboard")
        done = subprocess.run([cnntui, "export", session_dir, "--tensorboard", export_dir],
                              capture_output=True, text=True)
        assert done.returncode == 0, f"cnntui export --tensorboard failed ({done.returncode}):\n{done.stderr}"
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


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cnntui", default=os.path.join(REPO, ".build", "release", "cnntui"))
    parser.add_argument("--session", help="a session directory (default: train a 1-epoch tiny mycnn one)")
    parser.add_argument("--export-dir", help="check the export already in this directory (no `cnntui export`)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="cnntui-tensorboard-check-")
    try:
        if args.session:
            session = os.path.abspath(args.session)
        else:
            env = dict(os.environ, CNNTUI_SESSIONS=os.path.join(work, "sessions"))
            done = subprocess.run([args.cnntui, "train", "--model", "mycnn", "--dataset", "fashion-mnist", "--epochs", "1",
                                   "--limit-train", "640", "--limit-test", "200", "--batch-size", "64", "--json"],
                                  env=env, capture_output=True, text=True)
            if done.returncode != 0:
                sys.exit(f"cnntui train failed ({done.returncode}):\n{done.stderr}")
            session = [json.loads(line) for line in done.stdout.splitlines() if line.strip()][-1]["session_path"]
        for line in check_tensorboard(args.cnntui, session, work, export_dir=args.export_dir):
            print(line)
    except AssertionError as error:
        sys.exit(f"tensorboard export: {error}")
    finally:
        if args.keep:
            print("kept", work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
