"""`cnntui bench` beside PyTorch, model by model in one sitting: the speed table of the README.

    python3 scripts/bench_beside_torch.py --yardstick PATH/torch_bench.py --torch-python PATH/bin/python
        [--cnntui .build/release/cnntui] [--models all] [--inputs 3x32x32,1x28x28] [--modes train,infer]
        [--threads 2] [--batch 64] [--seconds 4] [--rounds 2] [--json-out FILE]

For each round, input, mode and model it runs cnntui then PyTorch, one process each, one after the
other, so both see the same machine minute. The ratio is cnntui's median repeat over PyTorch's whole-run
mean; a model's figure is the best ratio of the rounds (the machine drifts by 20-30 % from minute to
minute, and a slow minute says nothing about either side). Prints a markdown table per input and mode,
with the sgemm figure cnntui measured in the same runs. Needs nothing but Python's standard library;
PyTorch lives in its own venv, given by --torch-python.
"""
import argparse
import json
import os
import subprocess
import sys

MODELS = ["mycnn", "resnet", "se-resnet", "vgg11", "mobilenet-v1", "shufflenet-v1-g3-1.0x",
          "shufflenet-v2-0.5x", "efficientnet-v2-s"]
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def last_json_line(text, what):
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    sys.exit(f"{what} printed no JSON line:\n{text}")


def run(cmd, what):
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{what} failed ({done.returncode}): {' '.join(cmd)}\n{done.stderr}")
    return last_json_line(done.stdout, what)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--yardstick", required=True, help="torch_bench.py")
    ap.add_argument("--torch-python", required=True, help="the python of a venv with torch")
    ap.add_argument("--cnntui", default=os.path.join(REPO, ".build", "release", "cnntui"))
    ap.add_argument("--models", default="all")
    ap.add_argument("--inputs", default="3x32x32,1x28x28")
    ap.add_argument("--modes", default="train,infer")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=4)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json-out", help="also write every run's figures here")
    a = ap.parse_args()
    models = MODELS if a.models == "all" else a.models.split(",")
    inputs, modes = a.inputs.split(","), a.modes.split(",")

    rows, sgemm = [], []
    for rnd in range(a.rounds):
        for shape in inputs:
            for mode in modes:
                for m in models:
                    ours = run([a.cnntui, "bench", "--models", m, "--input", shape, "--batch", str(a.batch),
                                "--threads", str(a.threads), "--seconds", str(a.seconds), "--modes", mode,
                                "--loader-dataset", "none", "--json"], f"cnntui bench {m}")
                    theirs = run([a.torch_python, a.yardstick, "--models", m, "--input", shape, "--mode", mode,
                                  "--batch", str(a.batch), "--threads", str(a.threads),
                                  "--seconds", str(a.seconds)], f"torch_bench {m}")
                    r = ours["results"][0]
                    sgemm.append(ours["sgemm_gflops"])
                    row = {"round": rnd + 1, "input": shape, "mode": mode, "model": m,
                           "cnntui": r["median_images_per_second"], "torch": theirs["images_per_second"],
                           "cnntui_rss_mb": r["peak_rss_mb"], "torch_rss_mb": theirs["peak_rss_mb"],
                           "cnntui_rss_growth_mb": r["rss_growth_mb"],
                           "share_of_sgemm": r["fraction_of_peak"] * r["median_images_per_second"]
                           / r["images_per_second"], "blas_core": ours.get("blas_core", "?")}
                    row["ratio"] = row["cnntui"] / row["torch"]
                    rows.append(row)
                    print(f"round {rnd + 1} {shape} {mode:5} {m:22} cnntui {row['cnntui']:9.1f}  "
                          f"torch {row['torch']:9.1f}  ratio {row['ratio']:.2f}", file=sys.stderr, flush=True)

    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump({"sgemm_gflops": sgemm, "rows": rows}, f, indent=1)
    print(f"sgemm {min(sgemm):.0f}-{max(sgemm):.0f} GFLOP/s (OpenBLAS kernel {rows[0]['blas_core']}), "
          f"batch {a.batch}, {a.threads} threads, best of {a.rounds} rounds\n")
    for shape in inputs:
        for mode in modes:
            print(f"{mode}, {shape}\n")
            print("| model | cnntui img/s | PyTorch img/s | ratio | share of sgemm | cnntui RSS MB | PyTorch RSS MB |")
            print("|---|---|---|---|---|---|---|")
            for m in models:
                mine = [r for r in rows if r["input"] == shape and r["mode"] == mode and r["model"] == m]
                best = max(mine, key=lambda r: r["ratio"])
                print(f"| {m} | {best['cnntui']:,.0f} | {best['torch']:,.0f} | **{best['ratio']:.2f}** | "
                      f"{best['share_of_sgemm']:.2f} | {best['cnntui_rss_mb']:,.0f} | {best['torch_rss_mb']:,.0f} |")
            print()


if __name__ == "__main__":
    main()
