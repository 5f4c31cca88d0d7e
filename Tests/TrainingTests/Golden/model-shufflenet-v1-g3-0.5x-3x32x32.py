"""shufflenet-v1-g3-0.5x: the network cnntui trains, as a PyTorch module.

Written by `cnntui export` from cnntui's own layer tree: input [N, 3, 32, 32], 10 classes,
242134 parameters. Its state-dict keys and shapes are those of cnntui's model.safetensors, so
    model.load_state_dict(safetensors.torch.load_file(".../model.safetensors"))
loads a cnntui checkpoint as it is (strict).
"""
from collections import OrderedDict

import torch.nn as nn

from layers import (Block, ChannelShuffle, Concat, DropPath, GroupConv, Linear, Residual, Sequential, SplitConcat,
                    SqueezeExcite)

MODEL = "shufflenet-v1-g3-0.5x"
INPUT_SHAPE = (3, 32, 32)
NUM_CLASSES = 10


def build_model() -> nn.Module:
    return nn.Sequential(OrderedDict([
        ("first_conv", nn.Sequential(nn.Conv2d(3, 12, 3, padding=1, bias=False), nn.BatchNorm2d(12), nn.ReLU())),
        ("features", nn.Sequential(
            Block(
                "ShuffleV1Block",
                Concat(
                    branches=[
                        [
                            ("branch_proj", nn.AvgPool2d(3, stride=2, padding=1)),
                        ],
                        [
                            ("branch_main_1", nn.Sequential(GroupConv(12, 30, 1, groups=1), nn.BatchNorm2d(30), nn.ReLU())),
                            ("channel_shuffle", ChannelShuffle(3, "channels_first")),
                            ("branch_main_2", nn.Sequential(
                                nn.Conv2d(30, 30, 3, stride=2, padding=1, groups=30, bias=False),
                                nn.BatchNorm2d(30),
                                GroupConv(30, 108, 1, groups=3),
                                nn.BatchNorm2d(108),
                            )),
                        ],
                    ],
                    activation="relu",
                ),
            ),
            Block(
                "ShuffleV1Block",
                Residual(
                    body=[
                        ("branch_main_1", nn.Sequential(GroupConv(120, 30, 1, groups=3), nn.BatchNorm2d(30), nn.ReLU())),
                        ("channel_shuffle", ChannelShuffle(3, "channels_first")),
                        ("branch_main_2", nn.Sequential(
                            nn.Conv2d(30, 30, 3, padding=1, groups=30, bias=False),
                            nn.BatchNorm2d(30),
                            GroupConv(30, 120, 1, groups=3),
                            nn.BatchNorm2d(120),
                        )),
                    ],
                    activation="relu",
                ),
            ),
            Block(
                "ShuffleV1Block",
                Residual(
                    body=[
                        ("branch_main_1", nn.Sequential(GroupConv(120, 30, 1, groups=3), nn.BatchNorm2d(30), nn.ReLU())),
                        ("channel_shuffle", ChannelShuffle(3, "channels_first")),
                        ("branch_main_2", nn.Sequential(
                            nn.Conv2d(30, 30, 3, padding=1, groups=30, bias=False),
                            nn.BatchNorm2d(30),
                            GroupConv(30, 120, 1, groups=3),
                            nn.BatchNorm2d(120),
                        )),
                    ],
                    activation="relu",
                ),
            ),
            Block(
                "ShuffleV1Block",
                Residual(
                    body=[
                        ("branch_main_1", nn.Sequential(GroupConv(120, 30, 1, groups=3), nn.BatchNorm2d(30), nn.ReLU())),
                        ("channel_shuffle", ChannelShuffle(3, "channels_first")),
                        ("branch_main_2", nn.Sequential(
                            nn.Conv2d(30, 30, 3, padding=1, groups=30, bias=False),
                            nn.BatchNorm2d(30),
                            GroupConv(30, 120, 1, groups=3),
                            nn.BatchNorm2d(120),
                        )),
                    ],
                    activation="relu",
                ),
            ),
            Block(
                "ShuffleV1Block",
                Concat(
                    branches=[
                        [
                            ("branch_proj", nn.AvgPool2d(3, stride=2, padding=1)),
                        ],
                        [
                            ("branch_main_1", nn.Sequential(GroupConv(120, 60, 1, groups=3), nn.BatchNorm2d(60), nn.ReLU())),
                            ("channel_shuffle", ChannelShuffle(3, "channels_first")),
                            ("branch_main_2", nn.Sequential(
                                nn.Conv2d(60, 60, 3, stride=2, padding=1, groups=60, bias=False),
                                nn.BatchNorm2d(60),
                                GroupConv(60, 120, 1, groups=3),
                                nn.BatchNorm2d(120),
                            )),
                        ],
                    ],
                    activation="relu",
                ),
            ),
            Block(
                "ShuffleV1Block",
                Residual(
                    body=[
                        ("branch_main_1", nn.Sequential(GroupConv(240, 60, 1, groups=3), nn.BatchNorm2d(60), nn.ReLU())),
                        ("channel_shuffle", ChannelShuffle(3, "channels_first")),
                        ("branch_main_2", nn.Sequential(
                            nn.Conv2d(60, 60, 3, padding=1, groups=60, bias=False),
                            nn.BatchNorm2d(60),
                            GroupConv(60, 240, 1, groups=3),
                            nn.BatchNorm2d(240),
                        )),
                    ],
                    activation="relu",
                ),
            ),
            Block(
                "ShuffleV1Block",
                Residual(
                    body=[
                        ("branch_main_1", nn.Sequential(GroupConv(240, 60, 1, groups=3), nn.BatchNorm2d(60), nn.ReLU())),
                        ("channel_shuffle", ChannelShuffle(3, "channels_first")),
                        ("branch_main_2", nn.Sequential(
                            nn.Conv2d(60, 60, 3, padding=1, groups=60, bias=False),
                            nn.BatchNorm2d(60),
                            GroupConv(60, 240, 1, groups=3),
                            nn.BatchNorm2d(240),
                        )),
                    ],
                    activation="relu",
                ),
            ),
            Block(
                "ShuffleV1Block",
                Residual(
                    body=[
                        ("branch_main_1", nn.Sequential(GroupConv(240, 60, 1, groups=3), nn.BatchNorm2d(60), nn.ReLU())),
                        ("channel_shuffle", ChannelShuffle(3, "channels_first")),
                        ("branch_main_2", nn.Sequential(
                            nn.Conv2d(60, 60, 3, padding=1, groups=60, bias=False),
                            nn.BatchNorm2d(60),
                            GroupConv(60, 240, 1, groups=3),
                            nn.BatchNorm2d(240),
                        )),
                    ],
                    activation="relu",
                ),
            ),
            Block(
                "ShuffleV1Block",
                Residual(
                    body=[
                        ("branch_main_1", nn.Sequential(GroupConv(240, 60, 1, groups=3), nn.BatchNorm2d(60), nn.ReLU())),
                        ("channel_shuffle", ChannelShuffle(3, "channels_first")),
                        ("branch_main_2", nn.Sequential(
                            nn.Conv2d(60, 60, 3, padding=1, groups=60, bias=False),
                            nn.BatchNorm2d(60),
                            GroupConv(60, 240, 1, groups=3),
                            nn.BatchNorm2d(240),
                        )),
                    ],
                    activation="relu",
                ),
            ),
            Block(
                "ShuffleV1Block",
                Residual(
                    body=[
                        ("branch_main_1", nn.Sequential(GroupConv(240, 60, 1, groups=3), nn.BatchNorm2d(60), nn.ReLU())),
                        ("channel_shuffle", ChannelShuffle(3, "channels_first")),
                        ("branch_main_2", nn.Sequential(
                            nn.Conv2d(60, 60, 3, padding=1, groups=60, bias=False),
                            nn.BatchNorm2d(60),
                            GroupConv(60, 240, 1, groups=3),
                            nn.BatchNorm2d(240),
                        )),
                    ],
                    activation="relu",
                ),
            ),
            Block(
                "ShuffleV1Block",
                Residual(
                    body=[
                        ("branch_main_1", nn.Sequential(GroupConv(240, 60, 1, groups=3), nn.BatchNorm2d(60), nn.ReLU())),
                        ("channel_shuffle", ChannelShuffle(3, "channels_first")),
                        ("branch_main_2", nn.Sequential(
                            nn.Conv2d(60, 60, 3, padding=1, groups=60, bias=False),
                            nn.BatchNorm2d(60),
                            GroupConv(60, 240, 1, groups=3),
                            nn.BatchNorm2d(240),
                        )),
                    ],
                    activation="relu",
                ),
            ),
            Block(
                "ShuffleV1Block",
                Residual(
                    body=[
                        ("branch_main_1", nn.Sequential(GroupConv(240, 60, 1, groups=3), nn.BatchNorm2d(60), nn.ReLU())),
                        ("channel_shuffle", ChannelShuffle(3, "channels_first")),
                        ("branch_main_2", nn.Sequential(
                            nn.Conv2d(60, 60, 3, padding=1, groups=60, bias=False),
                            nn.BatchNorm2d(60),
                            GroupConv(60, 240, 1, groups=3),
                            nn.BatchNorm2d(240),
                        )),
                    ],
                    activation="relu",
                ),
            ),
            Block(
                "ShuffleV1Block",
                Concat(
                    branches=[
                        [
                            ("branch_proj", nn.AvgPool2d(3, stride=2, padding=1)),
                        ],
                        [
                            ("branch_main_1", nn.Sequential(GroupConv(240, 120, 1, groups=3), nn.BatchNorm2d(120), nn.ReLU())),
                            ("channel_shuffle", ChannelShuffle(3, "channels_first")),
                            ("branch_main_2", nn.Sequential(
                                nn.Conv2d(120, 120, 3, stride=2, padding=1, groups=120, bias=False),
                                nn.BatchNorm2d(120),
                                GroupConv(120, 240, 1, groups=3),
                                nn.BatchNorm2d(240),
                            )),
                        ],
                    ],
                    activation="relu",
                ),
            ),
            Block(
                "ShuffleV1Block",
                Residual(
                    body=[
                        ("branch_main_1", nn.Sequential(GroupConv(480, 120, 1, groups=3), nn.BatchNorm2d(120), nn.ReLU())),
                        ("channel_shuffle", ChannelShuffle(3, "channels_first")),
                        ("branch_main_2", nn.Sequential(
                            nn.Conv2d(120, 120, 3, padding=1, groups=120, bias=False),
                            nn.BatchNorm2d(120),
                            GroupConv(120, 480, 1, groups=3),
                            nn.BatchNorm2d(480),
                        )),
                    ],
                    activation="relu",
                ),
            ),
            Block(
                "ShuffleV1Block",
                Residual(
                    body=[
                        ("branch_main_1", nn.Sequential(GroupConv(480, 120, 1, groups=3), nn.BatchNorm2d(120), nn.ReLU())),
                        ("channel_shuffle", ChannelShuffle(3, "channels_first")),
                        ("branch_main_2", nn.Sequential(
                            nn.Conv2d(120, 120, 3, padding=1, groups=120, bias=False),
                            nn.BatchNorm2d(120),
                            GroupConv(120, 480, 1, groups=3),
                            nn.BatchNorm2d(480),
                        )),
                    ],
                    activation="relu",
                ),
            ),
            Block(
                "ShuffleV1Block",
                Residual(
                    body=[
                        ("branch_main_1", nn.Sequential(GroupConv(480, 120, 1, groups=3), nn.BatchNorm2d(120), nn.ReLU())),
                        ("channel_shuffle", ChannelShuffle(3, "channels_first")),
                        ("branch_main_2", nn.Sequential(
                            nn.Conv2d(120, 120, 3, padding=1, groups=120, bias=False),
                            nn.BatchNorm2d(120),
                            GroupConv(120, 480, 1, groups=3),
                            nn.BatchNorm2d(480),
                        )),
                    ],
                    activation="relu",
                ),
            ),
        )),
        ("globalpool", nn.AdaptiveAvgPool2d(1)),
        ("classifier", Linear(480, 10)),
    ]))
