"""Our own port of the models torchinfo's public test suite summarises.

Written from the behaviour each of its fixtures exercises (names kept so a torchinfo
user can find the case), not copied: sizes and control flow match, so the totals
and output shapes its tests assert can be compared with ours.
"""

from __future__ import annotations

import math
from collections import namedtuple
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence


class IdentityModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.identity = nn.Identity()

    def forward(self, x: Any) -> Any:
        return self.identity(x)


class LinearModel(nn.Module):
    """Three linear layers with ReLUs in a Sequential: 128 -> 128 -> 128 -> 1."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class UninitializedParameterModel(nn.Module):
    """Holds an uninitialised (lazy) parameter that forward replaces by a real one."""

    def __init__(self) -> None:
        super().__init__()
        self.param: nn.Parameter = nn.UninitializedParameter()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.param = nn.Parameter(torch.zeros(128))
        return x


class SingleInputNet(nn.Module):
    """The MNIST net of torchinfo's examples: 21,840 parameters."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d(0.3)
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = F.relu(self.fc1(x.view(-1, 320)))
        return F.log_softmax(self.fc2(x), dim=1)


class MultipleInputNetDifferentDtypes(nn.Module):
    """Two inputs; the second arrives as integers and is cast to float inside."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1a, self.fc1b = nn.Linear(300, 50), nn.Linear(50, 10)
        self.fc2a, self.fc2b = nn.Linear(300, 50), nn.Linear(50, 10)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        a = self.fc1b(F.relu(self.fc1a(x1)))
        b = self.fc2b(F.relu(self.fc2a(x2.float())))
        return F.log_softmax(torch.cat((a, b), 0), dim=1)


class ScalarNet(nn.Module):
    """A Python number as the second input picks the branch."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(64, 64, 3, 1, 1)
        self.conv2 = nn.Conv2d(64, 32, 3, 1, 1)

    def forward(self, x: torch.Tensor, scalar: float) -> torch.Tensor:
        return self.conv1(x) if scalar == 5 else self.conv2(x)


class LSTMNet(nn.Module):
    """Embedding -> 2-layer LSTM (sequence first) -> Linear; returns (logits, (h, c))."""

    def __init__(
        self, vocab: int = 20, embed: int = 300, hidden: int = 512, layers: int = 2
    ) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab, embed)
        self.encoder = nn.LSTM(embed, hidden, num_layers=layers)
        self.decoder = nn.Linear(hidden, vocab)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, Any]:
        out, hidden = self.encoder(self.embedding(x))
        out = self.decoder(out)
        return out.view(-1, out.size(2)), hidden


class RecursiveNet(nn.Module):
    """One conv called six times; two extra forward arguments that it ignores."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(64, 64, 3, 1, 1)

    def forward(self, x: torch.Tensor, args1: Any = None, args2: Any = None) -> torch.Tensor:
        for _ in range(6):
            x = self.conv1(x)
        return x


class CustomParameter(nn.Module):
    """Returns its own (attention x input) parameter, whatever the input."""

    def __init__(self, input_size: int, attention_size: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(attention_size, input_size))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weight


class ParameterListModel(nn.Module):
    """A ParameterList of 100x100 and 100x200 that forward never uses."""

    def __init__(self) -> None:
        super().__init__()
        self.weights = nn.ParameterList([nn.Parameter(torch.zeros(100, n)) for n in (100, 200)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class SiameseNets(nn.Module):
    """The same conv tower and fc1 applied to two images (shared weights)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 64, 10), nn.Conv2d(64, 128, 7)
        self.conv3, self.conv4 = nn.Conv2d(128, 128, 4), nn.Conv2d(128, 256, 4)
        self.pooling = nn.MaxPool2d(2, 2)
        self.fc1, self.fc2 = nn.Linear(256, 4096), nn.Linear(4096, 1)
        self.dropout = nn.Dropout(0.5)

    def tower(self, x: torch.Tensor) -> torch.Tensor:
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            x = self.pooling(F.relu(conv(x)))
        return self.fc1(x.view(x.size(0), -1))

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        distance = torch.abs(self.tower(x1) - self.tower(x2))
        return torch.sigmoid(self.fc2(self.dropout(distance)))


class ReturnDictLayer(nn.Module):
    """SingleInputNet without dropout that returns its activations in a dict."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out = {"conv1": self.conv1(x)}
        out["conv2"] = self.conv2(F.relu(F.max_pool2d(out["conv1"], 2)))
        x = F.relu(F.max_pool2d(out["conv2"], 2)).view(-1, 320)
        out["fc1"] = F.relu(self.fc1(x))
        out["fc2"] = self.fc2(out["fc1"])
        out["output"] = F.log_softmax(out["fc2"], dim=1)
        return out


class ReturnDict(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.return_dict = ReturnDictLayer()

    def forward(self, x: torch.Tensor, y: Any) -> dict[str, torch.Tensor]:
        return self.return_dict(x)


class DictParameter(nn.Module):
    """Takes a dict of tensors (keys 256 and 512) and a Python scale; no parameters."""

    def __init__(self) -> None:
        super().__init__()
        self.constant = 5

    def forward(self, x: dict[int, Any], scale_factor: int) -> torch.Tensor:
        return scale_factor * (x[256] + x[512][0]) * self.constant


class ModuleDictModel(nn.Module):
    """String arguments choose the layer and the activation from ModuleDicts."""

    def __init__(self) -> None:
        super().__init__()
        self.choices = nn.ModuleDict({"conv": nn.Conv2d(10, 10, 3), "pool": nn.MaxPool2d(3)})
        self.activations = nn.ModuleDict({"lrelu": nn.LeakyReLU(), "prelu": nn.PReLU()})

    def forward(self, x: torch.Tensor, layer_type: str, activation_type: str) -> torch.Tensor:
        return self.activations[activation_type](self.choices[layer_type](x))


class ObjectWithTensors:
    def __init__(self, tensors: Any) -> None:
        self.tensors = tensors


class HighlyNestedDictModel(nn.Module):
    """Returns a tensor buried in a dict, a tuple, a dict, a list and a plain object."""

    def __init__(self) -> None:
        super().__init__()
        self.lin1, self.lin2 = nn.Linear(10, 10), nn.Linear(10, 10)

    def forward(self, x: torch.Tensor) -> dict[str, Any]:
        x = F.softmax(self.lin2(self.lin1(x)), dim=0)
        return {"foo": ({"bar": [ObjectWithTensors(x)]},)}


class IntWithGetitem(int):
    """An int that can be indexed: the odd output of EdgecaseInputOutputModel."""

    def __new__(cls, tensor: torch.Tensor) -> IntWithGetitem:
        obj = super().__new__(cls, 0)
        obj.tensor = tensor
        return obj

    def __getitem__(self, k: int) -> torch.Tensor:
        return self.tensor * k


class EdgecaseInputOutputModel(nn.Module):
    """An empty dict as input (forward makes its own tensor) and an int-like output."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(3, 1)

    def forward(self, inputs: dict[str, torch.Tensor]) -> dict[str, IntWithGetitem]:
        x = inputs["foo"] if inputs else torch.ones(3)
        return {"foo": IntWithGetitem(self.linear(x))}


class NamedTuple(nn.Module):
    """A namedtuple of sizes as a keyword input; no parameters."""

    Point = namedtuple("Point", ["x", "y"])

    def forward(self, x: Any, y: Any, z: Any) -> Any:
        return self.Point(x, y).x + torch.ones(z.x)


class PackPaddedLSTM(nn.Module):
    """Embedding -> packed sequence -> LSTM; its last hidden state -> Linear."""

    def __init__(self, vocab: int = 60, embed: int = 128, out: int = 18, hidden: int = 32) -> None:
        super().__init__()
        self.hidden_size = hidden
        self.embedding = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, num_layers=1)
        self.hidden2out = nn.Linear(hidden, out)
        self.dropout_layer = nn.Dropout(p=0.2)

    def forward(self, batch: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        state = torch.ones(1, batch.size(-1), self.hidden_size)
        packed = pack_padded_sequence(self.embedding(batch), lengths)
        _, (ht, _) = self.lstm(packed, (state, state.clone()))
        return F.log_softmax(self.hidden2out(self.dropout_layer(ht[-1])), dim=1)


class ContainerChildModule(nn.Module):
    """Calls its Sequential whole, and also loops over its layers one by one."""

    def __init__(self) -> None:
        super().__init__()
        self._sequential = nn.Sequential(nn.Linear(5, 5), nn.Linear(5, 5))
        self._between = nn.Linear(5, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self._between(self._sequential(x))
        for layer in self._sequential:
            out = layer(out)
        out = self._sequential(x)
        for layer in self._sequential:
            out = layer(out)
        return out


class ContainerModule(nn.Module):
    """A ModuleList holding a Linear, a ContainerChildModule, a Linear and a None."""

    def __init__(self) -> None:
        super().__init__()
        self._layers = nn.ModuleList([nn.Linear(5, 5), ContainerChildModule(), nn.Linear(5, 5)])
        self._layers.append(None)  # type: ignore[arg-type]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self._layers:
            if layer is not None:
                x = layer(x)
        return x


class EmptyModule(nn.Module):
    """No layers and no parameters (its tensor is a plain attribute); forward takes nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.parameter = torch.rand(3, 3, requires_grad=True)

    def forward(self) -> dict[str, Any]:
        return {"loss": self.parameter.sum()}


class AutoEncoder(nn.Module):
    """Conv encoder, max pool with indices, max unpool to the pre-pool size, conv decoder."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU())
        self.pool = nn.MaxPool2d(2, 2, return_indices=True)
        self.unpool = nn.MaxUnpool2d(2, 2)
        self.decode = nn.Sequential(nn.Conv2d(16, 3, 3, padding=1), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.encoder(x)
        size = x.size()
        y, indices = self.pool(x)
        return self.decode(self.unpool(y, indices=indices, output_size=size))


class PartialJITModel(nn.Module):
    """SingleInputNet whose two Linear layers are TorchScript modules."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d(0.3)
        self.fc1 = torch.jit.script(nn.Linear(320, 50))
        self.fc2 = torch.jit.script(nn.Linear(50, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = F.relu(self.fc1(x.view(-1, 320)))
        return F.log_softmax(self.fc2(x), dim=1)


class MixedTrainableParameters(nn.Module):
    """w (10, trainable) * x + b (10, frozen)."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.empty(10), requires_grad=True)
        self.b = nn.Parameter(torch.empty(10), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w * x + self.b


class MixedTrainable(nn.Module):
    """Three 1x1 Conv1d: fully, partly (bias frozen) and not trainable; then Dropout."""

    def __init__(self) -> None:
        super().__init__()
        self.fully_trainable = nn.Conv1d(1, 1, 1)
        self.partially_trainable = nn.Conv1d(1, 1, 1)
        self.partially_trainable.bias.requires_grad_(False)
        self.non_trainable = nn.Conv1d(1, 1, 1)
        self.non_trainable.requires_grad_(False)
        self.dropout = nn.Dropout()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.non_trainable(self.partially_trainable(self.fully_trainable(x)))
        return self.dropout(x)


class ReuseLinear(nn.Module):
    """One Linear(10, 10) placed four times in a Sequential, each followed by a new ReLU."""

    def __init__(self) -> None:
        super().__init__()
        linear = nn.Linear(10, 10)
        self.model = nn.Sequential(*[m for _ in range(4) for m in (linear, nn.ReLU(True))])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class ReuseLinearExtended(nn.Module):
    """ReuseLinear whose Linear is also an attribute of the model itself."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(10, 10)
        self.model = nn.Sequential(*[m for _ in range(4) for m in (self.linear, nn.ReLU(True))])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class ReuseReLU(nn.Module):
    """One in-place ReLU object used four times in a conv/batch-norm stack."""

    def __init__(self) -> None:
        super().__init__()
        act = nn.ReLU(True)
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(4, 1, 1),
            nn.BatchNorm2d(1),
            act,
        ]
        for c in (1, 2, 4):
            layers += [nn.Conv2d(c, 2 * c, 1, stride=2, padding=1), nn.BatchNorm2d(2 * c), act]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class PrunedLayerNameModel(nn.Module):
    """A parameter named like a pruned one (``weight_orig``) with no mask beside it."""

    def __init__(self, input_size: int, attention_size: int) -> None:
        super().__init__()
        self.weight_orig = nn.Parameter(torch.ones(attention_size, input_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weight_orig


class FakePrunedLayerModel(PrunedLayerNameModel):
    """``weight_orig`` and a ``weight_mask`` that is a trainable parameter of zeros."""

    def __init__(self, input_size: int, attention_size: int) -> None:
        super().__init__(input_size, attention_size)
        self.weight_mask = nn.Parameter(torch.zeros(attention_size, input_size))


class RegisterParameter(nn.Sequential):
    """A Sequential with one extra parameter: a weight per block, x += w[k] * block(x)."""

    def __init__(self, *blocks: nn.Module) -> None:
        super().__init__(*blocks)
        self.register_parameter("weights", nn.Parameter(torch.zeros(len(blocks))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for k, block in enumerate(self):
            x = x + self.weights[k] * block(x)
        return x


class ParameterFCNet(nn.Module):
    """x @ a + b with raw parameters, then an optional Linear."""

    def __init__(
        self, input_dim: int = 128, hidden_dim: int = 64, output_dim: int | None = None
    ) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.randn(input_dim, hidden_dim))
        self.b = nn.Parameter(torch.randn(hidden_dim))
        self.fc2 = nn.Linear(hidden_dim, output_dim) if output_dim is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.mm(x, self.a) + self.b
        return h if self.fc2 is None else self.fc2(h)


class Inside(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.l_1 = nn.Linear(1, 1)
        self.param_1 = nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.l_1(x) * self.param_1


class InsideModel(nn.Module):
    """Parameters held directly by non-leaf modules, at two levels: 8 in all."""

    def __init__(self) -> None:
        super().__init__()
        self.l_0 = nn.Linear(2, 1)
        self.param_0 = nn.Parameter(torch.ones(2))
        self.inside = Inside()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inside(self.l_0(x)) * self.param_0


class RecursiveWithMissingLayers(nn.Module):
    """ModuleDicts of dilated 'same' convs and batch norms, indexed by name in forward."""

    def __init__(self) -> None:
        super().__init__()
        self.out_conv0 = nn.Conv2d(3, 8, 5, padding="same")
        self.out_bn0 = nn.BatchNorm2d(8)
        self.block0 = nn.ModuleDict()
        self.block1 = nn.ModuleDict()
        for i in range(1, 7):
            block = self.block0 if i < 4 else self.block1
            dilation = 2**i if i < 4 else 2 ** (7 - i)
            block[f"in_conv{i}"] = nn.Conv2d(8, 8, 3, padding="same", dilation=dilation)
            block[f"in_bn{i}"] = nn.BatchNorm2d(8)
        self.out_conv7 = nn.Conv2d(8, 1, 1, padding="same")
        self.out_bn7 = nn.BatchNorm2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.out_bn0(self.out_conv0(x)))
        for i in range(1, 7):
            block = self.block0 if i < 4 else self.block1
            x = torch.relu(block[f"in_bn{i}"](block[f"in_conv{i}"](x)))
        return torch.relu(self.out_bn7(self.out_conv7(x)))


class ConvLayerA(nn.Module):
    """conv, relu, pool: declared in the order forward calls them."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(1, 1, 1)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool1d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.relu(self.conv(x)))


class ConvLayerB(ConvLayerA):
    """The same calls, but the ReLU is declared before the conv."""

    def __init__(self) -> None:
        nn.Module.__init__(self)
        self.relu = nn.ReLU()
        self.conv = nn.Conv1d(1, 1, 1)
        self.pool = nn.MaxPool1d(1)


class CNNModuleList(nn.Module):
    def __init__(self, layer: type[nn.Module]) -> None:
        super().__init__()
        self.ml = nn.ModuleList([layer() for _ in range(5)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.ml:
            x = block(x)
        return x


class SimpleRNN(nn.Module):
    """An LSTMCell and a Tanh called four times in a loop (random initial state)."""

    def __init__(self, repeat_outside_loop: bool = False) -> None:
        super().__init__()
        self.repeat_outside_loop = repeat_outside_loop
        self.lstm = nn.LSTMCell(3, 2)
        self.activation = nn.Tanh()
        self.projection = nn.Linear(2, 3)

    def forward(self, token_embedding: torch.Tensor) -> torch.Tensor:
        n = token_embedding.size(0)
        hx, cx = torch.randn(n, 2), torch.randn(n, 2)
        for _ in range(4):
            hx, cx = self.lstm(token_embedding, (hx, cx))
            hx = self.activation(hx)
        if self.repeat_outside_loop:
            hx = self.activation(self.projection(hx))
        return hx


class TensorKernelSizeConv(nn.Module):
    """A wrapper whose ``kernel_size`` attribute is a 0-d tensor (as HuggingFace's Encodec)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(1, 1, kernel_size=3, padding=1)
        self.kernel_size = torch.tensor(3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class ParameterA(nn.Module):
    """One parameter and no forward."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1024))


class ParameterB(ParameterA):
    """One parameter and a Conv2d, no forward."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3)


class LayerWithRidiculouslyLongNameAndDoesntDoAnything(nn.Module):
    """An identity with a class name longer than torchinfo's 40-character name column."""

    def __init__(self) -> None:
        super().__init__()
        self.identity = nn.Identity()

    def forward(self, x: Any) -> Any:
        return self.identity(x)


class EdgeCaseModel(nn.Module):
    """A conv and a long-named identity; flags make forward fail or return odd values."""

    def __init__(
        self, throw_error: bool = False, return_str: bool = False, return_class: bool = False
    ) -> None:
        super().__init__()
        self.throw_error, self.return_str, self.return_class = throw_error, return_str, return_class
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.model = LayerWithRidiculouslyLongNameAndDoesntDoAnything()

    def forward(self, x: torch.Tensor) -> Any:
        x = self.model("string output" if self.return_str else self.conv1(x))
        if self.throw_error:
            x = self.conv1(x)  # 10 channels into a 1-channel conv
        return self.model(EdgeCaseModel) if self.return_class else x
