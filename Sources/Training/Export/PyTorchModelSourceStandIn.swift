import Engine

// TEMPORARY stand-in until the lead's generator (`PyTorchModelSource.swift`, on main) is merged into this branch:
// delete this file then. It knows MyCNN only (seed 003's module, whose state-dict names are cnntui's).
public enum PyTorchModelSource {
    public static func generate(_ network: Network, model: String) -> String {
        let shape = network.inputShape
        let body = model == "mycnn" ? """
            class MyCNN(nn.Module):
                def __init__(self, in_channels, height, width, num_classes, widths=(16, 32)):
                    super().__init__()
                    w1, w2 = widths
                    self.conv1 = nn.Sequential(nn.Conv2d(in_channels, w1, 3, 1, 1), nn.BatchNorm2d(w1), nn.ReLU(),
                                               nn.MaxPool2d(2, 2))
                    self.conv2 = nn.Sequential(nn.Conv2d(w1, w2, 3, 1, 1), nn.BatchNorm2d(w2), nn.ReLU(), nn.MaxPool2d(2, 2))
                    self.fc = nn.Linear(w2 * (height // 4) * (width // 4), num_classes)

                def forward(self, x):
                    x = self.conv2(self.conv1(x))
                    return self.fc(x.view(x.size(0), -1))


            def build_model() -> nn.Module:
                return MyCNN(*INPUT_SHAPE, NUM_CLASSES)

            """ : """
            def build_model() -> nn.Module:
                raise NotImplementedError("the stand-in model source knows mycnn only")

            """
        return """
            \"\"\"\(model) (stand-in model source).\"\"\"
            import torch.nn as nn

            INPUT_SHAPE = (\(shape.map(String.init).joined(separator: ", ")))
            NUM_CLASSES = \(network.classes)


            """ + body
    }
}
