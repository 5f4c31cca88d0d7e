"""Writes model.onnx from a checkpoint of this run, for inference outside PyTorch (onnxruntime, TensorRT, ...).

    python export_onnx.py CHECKPOINT [--out model.onnx]

CHECKPOINT is a checkpoint directory (cnntui's or this project's: it holds model.safetensors) or the
model.safetensors file itself. The graph takes normalised images [N, C, H, W] (any N) and gives logits
[N, classes]: normalise as data.py does (subtract the mean, divide by the std, per channel). With
onnxruntime installed, the written file is run once on random images and compared with PyTorch.

Needs the optional packages of requirements.txt: onnx and onnxscript (torch.onnx's exporter), onnxruntime
for the comparison.
"""
import argparse
import os

import torch
from safetensors.torch import load_file

from model import INPUT_SHAPE, MODEL, build_model


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="a checkpoint directory or its model.safetensors")
    parser.add_argument("--out", default="model.onnx", help="where to write the ONNX file (default: %(default)s)")
    args = parser.parse_args()

    weights = args.checkpoint
    if os.path.isdir(weights):
        weights = os.path.join(weights, "model.safetensors")
    model = build_model()
    model.load_state_dict(load_file(weights), strict=True)
    model.eval()

    example = torch.randn(2, *INPUT_SHAPE)
    batch = torch.export.Dim("batch", min=1)
    torch.onnx.export(model, (example,), args.out, input_names=["images"], output_names=["logits"],
                      dynamic_shapes=({0: batch},), dynamo=True)
    print(f"{args.out}: {MODEL}, input images [N, {', '.join(map(str, INPUT_SHAPE))}], output logits")

    try:
        import onnxruntime
    except ImportError:
        return
    images = torch.randn(3, *INPUT_SHAPE)
    session = onnxruntime.InferenceSession(args.out, providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {"images": images.numpy()})
    with torch.no_grad():
        difference = (torch.from_numpy(logits) - model(images)).abs().max().item()
    print(f"onnxruntime against PyTorch on 3 random images: largest logit difference {difference:.2e}")


if __name__ == "__main__":
    main()
