from torch import nn


class Net(nn.Module):
    default_input_shape = (1, 3, 8, 8)

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 5, kernel_size=3)

    def forward(self, x):
        return self.conv(x)
