"""The rest of torchinfo's fixture families, ported the way tests/torchinfo_models.py is.

Written from what each fixture of torchinfo's public test suite builds (its XL tests:
a DARTS-style genotype network, TMVA-Net, compressai's factorized-prior codec, two
Hugging Face transformers), not copied: layer sizes and control flow match, so the totals
and shapes torchinfo's expected outputs show can be set beside ours. Plus the
distribution-returning heads its newer outputs cover, and the lazy layers issue 14 names.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

# -- GenotypeNetwork: one DARTS cell built from a fixed genotype --------------------------


def _relu_conv_bn(c_in: int, c_out: int, k: int = 1, stride: int = 1, pad: int = 0) -> nn.Module:
    return nn.Sequential(
        nn.ReLU(), nn.Conv2d(c_in, c_out, k, stride, pad, bias=False), nn.BatchNorm2d(c_out)
    )


class ReLUConvBN(nn.Module):
    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.op = _relu_conv_bn(c_in, c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class SepConv(nn.Module):
    """Two depthwise-separable 3x3 stages, the first strided (DARTS' sep_conv_3x3)."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()

        def stage(c_last: int, s: int) -> list[nn.Module]:
            return [
                nn.ReLU(),
                nn.Conv2d(c_in, c_in, 3, s, 1, groups=c_in, bias=False),
                nn.Conv2d(c_in, c_last, 1, bias=False),
                nn.BatchNorm2d(c_last),
            ]

        self.op = nn.Sequential(*stage(c_in, stride), *stage(c_out, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class FactorizedReduce(nn.Module):
    """Halves the resolution with two 1x1 stride-2 convs, one shifted by a pixel."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.relu = nn.ReLU()
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])], dim=1))


class Identity(nn.Module):
    def forward(self, x: Any) -> Any:
        return x


class Cell(nn.Module):
    """A normal cell of the genotype ``skip_connect`` x2 (a reduction cell: ``sep_conv_3x3`` x2),
    whose output is only its first preprocessed state (``concat=range(1)``)."""

    def __init__(
        self, c_pp: int, c_p: int, c: int, reduction: bool = False, reduction_prev: bool = False
    ) -> None:
        super().__init__()
        self.preprocess0 = FactorizedReduce(c_pp, c) if reduction_prev else ReLUConvBN(c_pp, c)
        self.preprocess1 = ReLUConvBN(c_p, c)
        ops = (
            [("sep_conv_3x3", 0), ("sep_conv_3x3", 1)]
            if reduction
            else [("skip_connect", 1), ("skip_connect", 0)]
        )
        self._indices = [i for _, i in ops]
        self._concat = range(1)
        self.multiplier = len(self._concat)
        self._ops = nn.ModuleList()
        for name, index in ops:
            stride = 2 if reduction and index < 2 else 1
            if name == "sep_conv_3x3":
                self._ops.append(SepConv(c, c, stride))
            else:
                self._ops.append(Identity() if stride == 1 else FactorizedReduce(c, c))

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, drop_prob: float) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for i in range(len(self._ops) // 2):
            a = self._ops[2 * i](states[self._indices[2 * i]])
            b = self._ops[2 * i + 1](states[self._indices[2 * i + 1]])
            states.append(a + b)
        return torch.cat([states[i] for i in self._concat], dim=1)


class GenotypeNetwork(nn.Module):
    """Stem (3 -> 48 channels) and ``layers`` cells. As in torchinfo's fixture, forward
    computes the cells but returns nothing (None): an output-less model."""

    def __init__(self, c: int = 16, layers: int = 1) -> None:
        super().__init__()
        self.drop_path_prob = 0.0
        c_curr = 3 * c
        self.stem = nn.Sequential(
            nn.Conv2d(3, c_curr, 3, padding=1, bias=False), nn.BatchNorm2d(c_curr)
        )
        c_pp, c_p, c_curr = c_curr, c_curr, c
        self.cells = nn.ModuleList()
        for i in range(layers):
            if i in (layers // 3, 2 * layers // 3):
                c_curr *= 2
            cell = Cell(c_pp, c_p, c_curr)
            self.cells.append(cell)
            c_pp, c_p = c_p, cell.multiplier * c_curr

    def forward(self, x: torch.Tensor) -> None:
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob)


# -- TMVA-Net: three radar views, 3-D convs over time, ASPP, two transposed-conv decoders --


def _conv_bn_lrelu(conv: nn.Module, bn: nn.Module) -> list[nn.Module]:
    return [conv, bn, nn.LeakyReLU(inplace=True)]


class ConvBlock(nn.Module):
    def __init__(
        self, c_in: int, c_out: int, k: int = 1, pad: int = 0, dil: int = 1, twice: bool = False
    ) -> None:
        super().__init__()
        layers = _conv_bn_lrelu(
            nn.Conv2d(c_in, c_out, k, padding=pad, dilation=dil), nn.BatchNorm2d(c_out)
        )
        if twice:
            layers += _conv_bn_lrelu(
                nn.Conv2d(c_out, c_out, k, padding=pad, dilation=dil), nn.BatchNorm2d(c_out)
            )
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class Double3DConvBlock(nn.Module):
    """Two 3x3x3 convs, unpadded in time: 5 frames in, 1 out."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        layers = []
        for a in (c_in, c_out):
            layers += _conv_bn_lrelu(
                nn.Conv3d(a, c_out, 3, padding=(0, 1, 1)), nn.BatchNorm3d(c_out)
            )
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class ASPPBlock(nn.Module):
    """Image pooling (a 64x64 average, upsampled back) beside a 1x1 and three dilated 3x3 branches."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.global_avg_pool = nn.AvgPool2d((64, 64))
        self.conv1_1x1 = nn.Conv2d(c_in, c_out, 1)
        self.branch_1x1 = ConvBlock(c_in, c_out)
        self.branches = nn.ModuleList(ConvBlock(c_in, c_out, 3, d, d) for d in (6, 12, 18))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = F.interpolate(
            self.global_avg_pool(x), size=(64, 64), mode="bilinear", align_corners=False
        )
        outs = [self.branch_1x1(x)] + [b(x) for b in self.branches] + [self.conv1_1x1(pooled)]
        return torch.cat(outs, 1)


class EncodingBranch(nn.Module):
    """One view: the temporal 3-D block, then two 2x poolings; a Doppler axis is padded by one
    and pooled only along range (stride (2, 1)), keeping its 64 bins."""

    def __init__(self, doppler: bool) -> None:
        super().__init__()
        self.doppler = doppler
        self.double_3dconv_block1 = Double3DConvBlock(1, 128)
        self.doppler_max_pool = nn.MaxPool2d(2, stride=(2, 1))
        self.max_pool = nn.MaxPool2d(2, stride=2)
        self.double_conv_block2 = ConvBlock(128, 128, 3, 1, twice=True)
        self.single_conv_block1_1x1 = ConvBlock(128, 128)

    def _down(self, x: torch.Tensor) -> torch.Tensor:
        if self.doppler:
            return self.doppler_max_pool(F.pad(x, (0, 1, 0, 0), "constant", 0))
        return self.max_pool(x)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x1 = self._down(torch.squeeze(self.double_3dconv_block1(x), 2))
        x2 = self._down(self.double_conv_block2(x1))
        return x2, self.single_conv_block1_1x1(x2)


class TMVANetEncoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.ra_encoding_branch = EncodingBranch(doppler=False)
        self.rd_encoding_branch = EncodingBranch(doppler=True)
        self.ad_encoding_branch = EncodingBranch(doppler=True)
        self.aspp = nn.ModuleDict({v: ASPPBlock(128, 128) for v in ("rd", "ra", "ad")})
        self.fuse = nn.ModuleDict({v: ConvBlock(640, 128) for v in ("rd", "ra", "ad")})

    def forward(
        self, x_rd: torch.Tensor, x_ra: torch.Tensor, x_ad: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        ra_feat, ra_latent = self.ra_encoding_branch(x_ra)
        rd_feat, rd_latent = self.rd_encoding_branch(x_rd)
        ad_feat, ad_latent = self.ad_encoding_branch(x_ad)
        fused = {
            v: self.fuse[v](self.aspp[v](f))
            for v, f in (("rd", rd_feat), ("ra", ra_feat), ("ad", ad_feat))
        }
        latent = torch.cat((rd_latent, ra_latent, ad_latent), 1)
        return latent, fused["rd"], fused["ad"], fused["ra"]


class TMVANetDecoder(nn.Module):
    """Two views decoded in parallel; range-Doppler upsamples along range only."""

    def __init__(self, n_classes: int) -> None:
        super().__init__()
        self.branches = nn.ModuleDict()
        for view, stride in (("rd", (2, 1)), ("ra", (2, 2))):
            self.branches[view] = nn.ModuleDict(
                {
                    "latent": ConvBlock(384, 128),
                    "up1": nn.ConvTranspose2d(384, 128, stride, stride=stride),
                    "conv1": ConvBlock(128, 128, 3, 1, twice=True),
                    "up2": nn.ConvTranspose2d(128, 128, stride, stride=stride),
                    "conv2": ConvBlock(128, 128, 3, 1, twice=True),
                    "final": nn.Conv2d(128, n_classes, 1),
                }
            )

    def _decode(
        self, view: str, latent: torch.Tensor, own: torch.Tensor, ad: torch.Tensor
    ) -> torch.Tensor:
        b = self.branches[view]
        x = torch.cat((own, b["latent"](latent), ad), 1)
        x = b["conv1"](b["up1"](x))
        return b["final"](b["conv2"](b["up2"](x)))

    def forward(
        self, latent: torch.Tensor, x2_rd: torch.Tensor, x2_ad: torch.Tensor, x2_ra: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self._decode("rd", latent, x2_rd, x2_ad), self._decode("ra", latent, x2_ra, x2_ad)


class TMVANet(nn.Module):
    """Inputs: range-Doppler (1, 1, T, 256, 64), range-angle (1, 1, T, 256, 256), angle-Doppler
    (1, 1, T, 256, 64) with T = 5 frames; outputs the RD and RA segmentations."""

    def __init__(self, n_classes: int = 4) -> None:
        super().__init__()
        self.encoder = TMVANetEncoder()
        self.decoder = TMVANetDecoder(n_classes)

    def forward(
        self, x_rd: torch.Tensor, x_ra: torch.Tensor, x_ad: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.decoder(*self.encoder(x_rd, x_ra, x_ad))


# -- compressai's bmshj2018-factorized: GDN transforms and an entropy bottleneck ---------


class _LowerBoundGrad(torch.autograd.Function):
    """max(x, bound) whose gradient still flows where it would move x back above the bound."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, bound: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, bound)
        return torch.max(x, bound)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        x, bound = ctx.saved_tensors
        return grad * ((x >= bound) | (grad < 0)).type(grad.dtype), None


class LowerBound(nn.Module):
    def __init__(self, bound: float) -> None:
        super().__init__()
        self.register_buffer("bound", torch.tensor([float(bound)]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _LowerBoundGrad.apply(x, self.bound)


class NonNegativeParametrizer(nn.Module):
    """Stores sqrt(v + eps) and reads back bound(stored)^2 - eps: a value kept >= minimum."""

    def __init__(self, minimum: float = 0.0, eps: float = 2**-18) -> None:
        super().__init__()
        self.register_buffer("pedestal", torch.tensor([eps**2]))
        self.lower_bound = LowerBound((minimum + eps**2) ** 0.5)

    def init(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sqrt(torch.max(x + self.pedestal, self.pedestal))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lower_bound(x) ** 2 - self.pedestal


class GDN(nn.Module):
    """Generalised divisive normalisation: x / sqrt(beta + gamma @ x^2) (inverse: times)."""

    def __init__(self, channels: int, inverse: bool = False) -> None:
        super().__init__()
        self.inverse = inverse
        self.beta_reparam = NonNegativeParametrizer(minimum=1e-6)
        self.gamma_reparam = NonNegativeParametrizer()
        self.beta = nn.Parameter(self.beta_reparam.init(torch.ones(channels)))
        self.gamma = nn.Parameter(self.gamma_reparam.init(0.1 * torch.eye(channels)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.size(1)
        gamma = self.gamma_reparam(self.gamma).reshape(c, c, 1, 1)
        norm = F.conv2d(x**2, gamma, self.beta_reparam(self.beta))
        return x * (torch.sqrt(norm) if self.inverse else torch.rsqrt(norm))


class EntropyBottleneck(nn.Module):
    """A learned per-channel density (a small monotone network of filters 1-3-3-3-3-1) that
    quantises its input (noise in training, rounding about the median in eval) and returns
    the likelihood of every element."""

    def __init__(
        self, channels: int, filters: tuple[int, ...] = (3, 3, 3, 3), init_scale: float = 10.0
    ) -> None:
        super().__init__()
        widths = (1, *filters, 1)
        scale = init_scale ** (1 / (len(filters) + 1))
        self.matrices = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.factors = nn.ParameterList()
        for i in range(len(filters) + 1):
            init = math.log(math.expm1(1 / scale / widths[i + 1]))
            self.matrices.append(
                nn.Parameter(torch.full((channels, widths[i + 1], widths[i]), init))
            )
            self.biases.append(nn.Parameter(torch.rand(channels, widths[i + 1], 1) - 0.5))
            if i < len(filters):
                self.factors.append(nn.Parameter(torch.zeros(channels, widths[i + 1], 1)))
        self.quantiles = nn.Parameter(
            torch.tensor([-init_scale, 0.0, init_scale]).repeat(channels, 1, 1)
        )
        self.likelihood_lower_bound = LowerBound(1e-9)

    def _cumulative_logits(self, x: torch.Tensor) -> torch.Tensor:
        for i, (matrix, bias) in enumerate(zip(self.matrices, self.biases)):
            x = torch.matmul(F.softplus(matrix), x) + bias
            if i < len(self.factors):
                x = x + torch.tanh(self.factors[i]) * torch.tanh(x)
        return x

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        c = x.size(1)
        order = [1, 0, *range(2, x.dim())]
        flat = x.permute(*order).reshape(c, 1, -1)  # channels first: (C, 1, N)
        if self.training:
            q = flat + torch.empty_like(flat).uniform_(-0.5, 0.5)
        else:
            medians = self.quantiles[:, :, 1:2]
            q = torch.round(flat - medians) + medians
        lower = self._cumulative_logits(q - 0.5)
        upper = self._cumulative_logits(q + 0.5)
        sign = -torch.sign(lower + upper).detach()
        likelihood = torch.abs(torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower))
        likelihood = self.likelihood_lower_bound(likelihood)
        shape = (x.size(1), x.size(0), *x.shape[2:])
        back = [1, 0, *range(2, x.dim())]
        return q.reshape(shape).permute(*back), likelihood.reshape(shape).permute(*back)


class FactorizedPrior(nn.Module):
    """Ballé et al. 2018's factorized-prior codec at compressai's quality 4 (N=128, M=192):
    4 strided 5x5 convs with GDN down, the bottleneck, 4 transposed convs with inverse GDN up."""

    def __init__(self, n: int = 128, m: int = 192) -> None:
        super().__init__()

        def down(a: int, b: int) -> nn.Module:
            return nn.Conv2d(a, b, 5, stride=2, padding=2)

        def up(a: int, b: int) -> nn.Module:
            return nn.ConvTranspose2d(a, b, 5, stride=2, padding=2, output_padding=1)

        self.entropy_bottleneck = EntropyBottleneck(m)
        self.g_a = nn.Sequential(
            down(3, n), GDN(n), down(n, n), GDN(n), down(n, n), GDN(n), down(n, m)
        )
        self.g_s = nn.Sequential(
            up(m, n),
            GDN(n, inverse=True),
            up(n, n),
            GDN(n, inverse=True),
            up(n, n),
            GDN(n, inverse=True),
            up(n, 3),
        )

    def forward(self, x: torch.Tensor) -> dict[str, Any]:
        y_hat, likelihoods = self.entropy_bottleneck(self.g_a(x))
        return {"x_hat": self.g_s(y_hat), "likelihoods": {"y": likelihoods}}


# -- heads returning a torch.distributions object (torchinfo's newer output fixtures) ----


class NormalOutputModel(nn.Module):
    """Mean and log-scale heads; returns Normal(mean, exp(log_scale))."""

    def __init__(self) -> None:
        super().__init__()
        self.mean = nn.Linear(10, 5)
        self.log_scale = nn.Linear(10, 5)

    def forward(self, x: torch.Tensor) -> torch.distributions.Normal:
        return torch.distributions.Normal(self.mean(x), torch.exp(self.log_scale(x)))


class CategoricalOutputModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(10, 5)
        self.log_softmax = nn.LogSoftmax(dim=-1)

    def forward(self, x: torch.Tensor) -> torch.distributions.Categorical:
        return torch.distributions.Categorical(logits=self.log_softmax(self.fc(x)))


# -- lazy layers: shapes known only after the first forward ------------------------------


class LazyMLP(nn.Module):
    """LazyLinear -> ReLU -> LazyLinear -> ReLU -> Linear: the first two learn in_features from x."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.LazyLinear(64), nn.ReLU(), nn.LazyLinear(32), nn.ReLU(), nn.Linear(32, 10)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class LazyConvNet(nn.Module):
    """LazyConv2d, LazyBatchNorm2d (lazy buffers too) and a LazyLinear after flattening."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.LazyConv2d(8, 3, padding=1), nn.LazyBatchNorm2d(), nn.ReLU(), nn.MaxPool2d(2)
        )
        self.head = nn.LazyLinear(10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.flatten(self.features(x), 1))


# -- Hugging Face: the two models torchinfo's XL tests summarise, built from configs ------


def flan_t5_small(**overrides: Any) -> nn.Module:
    """T5ForConditionalGeneration shaped like google/flan-t5-small (no weights downloaded)."""
    from transformers import T5Config, T5ForConditionalGeneration

    config = dict(
        vocab_size=32128,
        d_model=512,
        d_kv=64,
        d_ff=1024,
        num_layers=8,
        num_decoder_layers=8,
        num_heads=6,
        feed_forward_proj="gated-gelu",
        tie_word_embeddings=False,
        decoder_start_token_id=0,
        pad_token_id=0,
    )
    config.update(overrides)
    built = T5Config(**config)
    built.tie_word_embeddings = False  # transformers 5's T5Config drops the keyword...
    model = T5ForConditionalGeneration(built)
    for stack in (model.encoder, model.decoder):  # ...and with it the shared input embedding
        stack.set_input_embeddings(model.shared)
    return model.eval()


def bert(**overrides: Any) -> nn.Module:
    """BertModel from BertConfig's defaults (bert-base: 12 layers of 768)."""
    from transformers import BertConfig, BertModel

    return BertModel(BertConfig(**overrides)).eval()
