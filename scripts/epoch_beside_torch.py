"""A whole epoch on Fashion-MNIST as users run it, cnntui beside a plain PyTorch script with the same recipe.

    python3 scripts/epoch_beside_torch.py --torch-python PATH/bin/python [--cnntui .build/release/cnntui]
        [--models mycnn,resnet] [--rounds 3] [--threads 2]

The recipe: Adam 1e-3, batch 64, no augmentation, constant rate, one epoch over the 60,000 training
images, then the 10,000 test images; pixels / 255, then (x - 0.2860) / 0.3530. cnntui runs `cnntui train`
(its whole process: reading the gzip files, training, the test evaluation, the checkpoint); PyTorch runs
the seed's module from scripts/fixtures/torch_models in a process of its own, timed from after `import
torch` (reading the same gzip files into tensors, a shuffled DataLoader, training, evaluation under
`eval()` and `no_grad()`). Model by model, cnntui then PyTorch, each round; prints each run's wall time,
test accuracy and peak resident memory, and the medians.
"""
import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MEAN, STD = 0.2860, 0.3530


def torch_epoch(model_name, seed, data, threads):
    """The PyTorch side, in its own process (the --torch-child entry)."""
    import numpy as np
    import torch
    import torch.nn.functional as F
    start = time.perf_counter()
    sys.path.insert(0, os.path.join(REPO, "scripts", "fixtures"))
    from torch_models.seed003 import MyCNN, ResNet
    torch.set_num_threads(threads)
    torch.manual_seed(seed)

    def idx(name, offset):
        with gzip.open(os.path.join(data, name)) as f:
            return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)

    def images(name):
        x = torch.from_numpy(idx(name, 16).reshape(-1, 1, 28, 28).astype(np.float32) / 255)
        return (x - MEAN) / STD

    train_x, test_x = images("train-images-idx3-ubyte.gz"), images("t10k-images-idx3-ubyte.gz")
    train_y = torch.from_numpy(idx("train-labels-idx1-ubyte.gz", 8).astype(np.int64))
    test_y = torch.from_numpy(idx("t10k-labels-idx1-ubyte.gz", 8).astype(np.int64))
    model = MyCNN(1, 28, 28, 10) if model_name == "mycnn" else ResNet(1, 10, [2, 2, 2])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(train_x, train_y), batch_size=64, shuffle=True)
    model.train()
    for x, y in loader:
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(test_x), 1000):
            correct += (model(test_x[i:i + 1000]).argmax(1) == test_y[i:i + 1000]).sum().item()
    print(json.dumps({"seconds": time.perf_counter() - start, "test_accuracy": correct / len(test_x)}), flush=True)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--torch-child":
        _, _, model, seed, data, threads = sys.argv
        return torch_epoch(model, int(seed), data, int(threads))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--torch-python", required=True)
    ap.add_argument("--cnntui", default=os.path.join(REPO, ".build", "release", "cnntui"))
    ap.add_argument("--models", default="mycnn,resnet")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    found = json.loads(subprocess.run([a.cnntui, "datasets", "--json"], capture_output=True, text=True, check=True).stdout)
    data = next(d["path"] for d in found if d["name"] == "fashion-mnist" and d["found"])
    results = {}
    with tempfile.TemporaryDirectory() as sessions:
        for rnd in range(a.rounds):
            for m in a.models.split(","):
                seed = rnd + 1
                ours = [a.cnntui, "train", "--model", m, "--dataset", "fashion-mnist",
                        "--epochs", "1", "--batch-size", "64", "--optimizer", "adam", "--lr", "0.001", "--augment", "none",
                        "--schedule", "constant", "--seed", str(seed), "--threads", str(a.threads), "--json",
                        "--sessions-dir", sessions]
                theirs = [a.torch_python, os.path.abspath(__file__), "--torch-child", m,
                          str(seed), data, str(a.threads)]
                for side, cmd in (("cnntui", ours), ("pytorch", theirs)):
                    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
                        start = time.perf_counter()
                        child = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
                        _, status, usage = os.wait4(child.pid, 0)  # its own peak RSS, in KiB
                        wall = time.perf_counter() - start
                        out.seek(0), err.seek(0)
                        if status != 0:
                            sys.exit(f"failed: {' '.join(cmd)}\n{err.read()}")
                        last = json.loads(out.read().strip().splitlines()[-1])
                    rss = usage.ru_maxrss / 1024
                    seconds = wall if side == "cnntui" else last["seconds"]
                    results.setdefault((m, side), []).append((seconds, last["test_accuracy"], rss))
                    print(f"round {rnd + 1} {m:7} {side:8} {seconds:7.1f} s  test accuracy {last['test_accuracy']:.4f}  "
                          f"peak RSS {rss:,.0f} MiB", file=sys.stderr, flush=True)
    print("| model | cnntui s | PyTorch s | ratio | cnntui MiB | PyTorch MiB |")
    print("|---|---|---|---|---|---|")
    for m in a.models.split(","):
        ours, theirs = results[(m, "cnntui")], results[(m, "pytorch")]
        s_ours, s_theirs = statistics.median(r[0] for r in ours), statistics.median(r[0] for r in theirs)
        print(f"| {m} | {s_ours:.1f} | {s_theirs:.1f} | **{s_theirs / s_ours:.2f}** | "
              f"{statistics.median(r[2] for r in ours):,.0f} | {statistics.median(r[2] for r in theirs):,.0f} |")


if __name__ == "__main__":
    main()
