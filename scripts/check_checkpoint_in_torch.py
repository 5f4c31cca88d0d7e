"""Checks that a cnntui checkpoint is a PyTorch state dict: trains one tiny epoch of mycnn with the CLI
(or takes --session), loads checkpoints/last/model.safetensors into the seed's PyTorch MyCNN with
strict=True, and compares both ways of running it on Fashion-MNIST test images:
  - `cnntui predict --top 10` on PNG files of the images against torch's softmax, per class;
  - `cnntui eval --json` (loss, accuracy on the run's test slice) against torch on the same images.

    swift build -c release
    python3 scripts/check_checkpoint_in_torch.py [--cnntui .build/release/cnntui]
        [--session PATH] [--images 32] [--keep]

Exits 1 and says what differs if anything does. Needs torch, numpy, safetensors (not PIL).
"""
import argparse
import gzip
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "scripts", "fixtures"))
from torch_models.seed003 import MyCNN  # noqa: E402

FASHION_TEST_IMAGES = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
FASHION_TEST_LABELS = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz"


def run(cnntui, args, sessions):
    env = dict(os.environ, CNNTUI_SESSIONS=sessions)
    done = subprocess.run([cnntui] + args, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"cnntui {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def write_grey_png(path, pixels):
    """8-bit greyscale PNG with the standard library only (zlib-compressed IDAT, filter 0 per row)."""
    height, width = pixels.shape
    raw = b"".join(b"\x00" + pixels[y].tobytes() for y in range(height))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cnntui", default=os.path.join(REPO, ".build", "release", "cnntui"))
    parser.add_argument("--session", help="an existing mycnn fashion-mnist session directory (default: train one)")
    parser.add_argument("--images", type=int, default=32, help="test images to predict")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="cnntui-torch-check-")
    try:
        sessions = os.path.join(work, "sessions")
        if args.session:
            session = os.path.abspath(args.session)
        else:
            lines = run(args.cnntui, ["train", "--model", "mycnn", "--dataset", "fashion-mnist", "--epochs", "1",
                                      "--limit-train", "640", "--limit-test", "200", "--batch-size", "64", "--json"],
                        sessions)
            session = lines[-1]["session_path"]
        with open(os.path.join(session, "config.json")) as f:
            config = json.load(f)
        with open(os.path.join(session, "dataset.json")) as f:
            dataset = json.load(f)
        assert config["model"] == "mycnn" and dataset["name"] == "fashion-mnist", "expects a mycnn fashion-mnist session"

        # The README's few lines: the checkpoint is the seed module's state dict, names and all.
        checkpoint = os.path.join(session, "checkpoints", "last", "model.safetensors")
        model = MyCNN(1, 28, 28, 10)
        model.load_state_dict(load_file(checkpoint), strict=True)
        model.eval()

        images, labels = read_idx(FASHION_TEST_IMAGES), read_idx(FASHION_TEST_LABELS)
        mean, std = dataset["mean"][0], dataset["std"][0]

        def torch_logits(batch):
            x = torch.from_numpy(batch.astype(np.float32) / 255.0).unsqueeze(1)
            with torch.no_grad():
                return model((x - mean) / std)

        # predict: every class's probability for PNG copies of the first test images.
        paths = []
        for i in range(args.images):
            paths.append(os.path.join(work, f"test-{i:03d}.png"))
            write_grey_png(paths[-1], images[i])
        predictions = run(args.cnntui, ["predict", *paths, "--session", session, "--top", "10", "--json"], sessions)
        ours = np.zeros((args.images, 10))
        for i, p in enumerate(predictions):
            for entry in p["top"]:
                ours[i, entry["index"]] = entry["probability"]
        theirs = F.softmax(torch_logits(images[:args.images]), dim=1).numpy()
        worst = float(np.abs(ours - theirs).max())
        same_top = bool((ours.argmax(1) == theirs.argmax(1)).all())
        print(f"predict: {args.images} PNG images, worst |p_cnntui - p_torch| = {worst:.2e}, same top-1: {same_top}")

        # eval: loss and accuracy over the run's test slice (the first limit_test images).
        count = config.get("limit_test") or len(labels)
        evaluation = run(args.cnntui, ["eval", session, "--checkpoint", "last", "--json"], sessions)[0]
        logits = torch_logits(images[:count])
        target = torch.from_numpy(labels[:count].astype(np.int64))
        torch_loss = float(F.cross_entropy(logits, target))
        torch_accuracy = float((logits.argmax(1) == target).float().mean())
        print(f"eval on {count} images: cnntui loss {evaluation['loss']:.6f} accuracy {evaluation['accuracy']:.4f}; "
              f"torch loss {torch_loss:.6f} accuracy {torch_accuracy:.4f}")

        failures = []
        if worst > 1e-5 or not same_top:
            failures.append("predict probabilities differ from PyTorch's")
        if abs(evaluation["loss"] - torch_loss) > 1e-4 * max(1.0, abs(torch_loss)):
            failures.append("eval loss differs from PyTorch's")
        if abs(evaluation["accuracy"] - torch_accuracy) > 0.5 / count:
            failures.append("eval accuracy differs from PyTorch's")
        if failures:
            sys.exit("FAILED: " + "; ".join(failures))
        print(f"OK: {checkpoint} loads into the PyTorch MyCNN (strict) and both agree")
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
