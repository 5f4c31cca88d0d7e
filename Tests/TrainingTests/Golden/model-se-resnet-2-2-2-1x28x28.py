"""se-resnet-2-2-2: the network cnntui trains, as a PyTorch module.

Written by `cnntui export` from cnntui's own layer tree: input [N, 1, 28, 28], 10 classes,
197032 parameters. Its state-dict keys and shapes are those of cnntui's model.safetensors, so
    model.load_state_dict(safetensors.torch.load_file(".../model.safetensors"))
loads a cnntui checkpoint as it is (strict).
"""
from collections import OrderedDict

import torch.nn as nn

from layers import (Block, ChannelShuffle, Concat, DropPath, GroupConv, Linear, Residual, Sequential, SplitConcat,
                    SqueezeExcite)

MODEL = "se-resnet-2-2-2"
INPUT_SHAPE = (1, 28, 28)
NUM_CLASSES = 10


def build_model() -> nn.Module:
    return nn.Sequential(OrderedDict([
        ("conv", nn.Conv2d(1, 16, 3, padding=1, bias=False)),
        ("bn", nn.BatchNorm2d(16)),
        ("relu", nn.ReLU()),
        ("layer1", nn.Sequential(
            Block(
                "SEResidualBlock",
                Residual(
                    body=[
                        ("conv1", nn.Conv2d(16, 16, 3, padding=1, bias=False)),
                        ("bn1", nn.BatchNorm2d(16)),
                        ("relu", nn.ReLU()),
                        ("conv2", nn.Conv2d(16, 16, 3, padding=1, bias=False)),
                        ("bn2", nn.BatchNorm2d(16)),
                        ("se", SqueezeExcite(
                            gate=[
                                ("avg_pool", nn.AdaptiveAvgPool2d(1)),
                                ("FC1", Linear(16, 1)),
                                ("relu", nn.ReLU()),
                                ("FC2", Linear(1, 16)),
                                ("sigmoid", nn.Sigmoid()),
                            ],
                        )),
                    ],
                    activation="relu",
                ),
            ),
            Block(
                "SEResidualBlock",
                Residual(
                    body=[
                        ("conv1", nn.Conv2d(16, 16, 3, padding=1, bias=False)),
                        ("bn1", nn.BatchNorm2d(16)),
                        ("relu", nn.ReLU()),
                        ("conv2", nn.Conv2d(16, 16, 3, padding=1, bias=False)),
                        ("bn2", nn.BatchNorm2d(16)),
                        ("se", SqueezeExcite(
                            gate=[
                                ("avg_pool", nn.AdaptiveAvgPool2d(1)),
                                ("FC1", Linear(16, 1)),
                                ("relu", nn.ReLU()),
                                ("FC2", Linear(1, 16)),
                                ("sigmoid", nn.Sigmoid()),
                            ],
                        )),
                    ],
                    activation="relu",
                ),
            ),
        )),
        ("layer2", nn.Sequential(
            Block(
                "SEResidualBlock",
                Residual(
                    body=[
                        ("conv1", nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False)),
                        ("bn1", nn.BatchNorm2d(32)),
                        ("relu", nn.ReLU()),
                        ("conv2", nn.Conv2d(32, 32, 3, padding=1, bias=False)),
                        ("bn2", nn.BatchNorm2d(32)),
                        ("se", SqueezeExcite(
                            gate=[
                                ("avg_pool", nn.AdaptiveAvgPool2d(1)),
                                ("FC1", Linear(32, 2)),
                                ("relu", nn.ReLU()),
                                ("FC2", Linear(2, 32)),
                                ("sigmoid", nn.Sigmoid()),
                            ],
                        )),
                    ],
                    shortcut=("downsample", nn.Sequential(nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(32))),
                    activation="relu",
                ),
            ),
            Block(
                "SEResidualBlock",
                Residual(
                    body=[
                        ("conv1", nn.Conv2d(32, 32, 3, padding=1, bias=False)),
                        ("bn1", nn.BatchNorm2d(32)),
                        ("relu", nn.ReLU()),
                        ("conv2", nn.Conv2d(32, 32, 3, padding=1, bias=False)),
                        ("bn2", nn.BatchNorm2d(32)),
                        ("se", SqueezeExcite(
                            gate=[
                                ("avg_pool", nn.AdaptiveAvgPool2d(1)),
                                ("FC1", Linear(32, 2)),
                                ("relu", nn.ReLU()),
                                ("FC2", Linear(2, 32)),
                                ("sigmoid", nn.Sigmoid()),
                            ],
                        )),
                    ],
                    activation="relu",
                ),
            ),
        )),
        ("layer3", nn.Sequential(
            Block(
                "SEResidualBlock",
                Residual(
                    body=[
                        ("conv1", nn.Conv2d(32, 64, 3, stride=2, padding=1, bias=False)),
                        ("bn1", nn.BatchNorm2d(64)),
                        ("relu", nn.ReLU()),
                        ("conv2", nn.Conv2d(64, 64, 3, padding=1, bias=False)),
                        ("bn2", nn.BatchNorm2d(64)),
                        ("se", SqueezeExcite(
                            gate=[
                                ("avg_pool", nn.AdaptiveAvgPool2d(1)),
                                ("FC1", Linear(64, 4)),
                                ("relu", nn.ReLU()),
                                ("FC2", Linear(4, 64)),
                                ("sigmoid", nn.Sigmoid()),
                            ],
                        )),
                    ],
                    shortcut=("downsample", nn.Sequential(nn.Conv2d(32, 64, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(64))),
                    activation="relu",
                ),
            ),
            Block(
                "SEResidualBlock",
                Residual(
                    body=[
                        ("conv1", nn.Conv2d(64, 64, 3, padding=1, bias=False)),
                        ("bn1", nn.BatchNorm2d(64)),
                        ("relu", nn.ReLU()),
                        ("conv2", nn.Conv2d(64, 64, 3, padding=1, bias=False)),
                        ("bn2", nn.BatchNorm2d(64)),
                        ("se", SqueezeExcite(
                            gate=[
                                ("avg_pool", nn.AdaptiveAvgPool2d(1)),
                                ("FC1", Linear(64, 4)),
                                ("relu", nn.ReLU()),
                                ("FC2", Linear(4, 64)),
                                ("sigmoid", nn.Sigmoid()),
                            ],
                        )),
                    ],
                    activation="relu",
                ),
            ),
        )),
        ("avg_pool", nn.AdaptiveAvgPool2d(1)),
        ("fc", Linear(64, 10)),
    ]))
