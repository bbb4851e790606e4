"""A panel of timm models nobody here wrote, chosen so every special layer family appears (issue 14).

Each model is built on meta at its default input size (eager attention) and must summarise with
parameters exact and MACs within 1 % of ``FlopCounterMode`` on a meta forward; a seeded CPU copy
must then pass :func:`cnninspect.verify` -- every row's shape equal to a real forward's. To keep CI
near 6 minutes on two cores, verify runs at 96x96 on models whose ``pretrained_cfg`` says
``fixed_input_size: False`` (timm's own word that any size works), and on a smaller registered
sibling for the few giants listed in ``VERIFY_SIBLING``; the meta checks always use the default size.
"""

from __future__ import annotations

import warnings
from functools import cache

import pytest
import timm
import torch
from torch import nn
from zoo_panel import assert_totals, assert_verified, panel_params, reference_macs

import cnninspect

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# panel id -> the layer family it is here for
PANEL = {
    # dynamic-"same" layers: pad inside their own forward
    "tf_efficientnet_b0": "Conv2dSame, SE",
    "tf_mixnet_s": "MixedConv2d of Conv2dSame",
    "maxvit_tiny_tf_224": "MaxViT partitions (block/grid attention), AvgPool2dSame, rel-pos",
    "vit_small_r26_s32_224": "ViT-ResNet hybrid: StdConv2dSame, MaxPool2dSame",
    "dm_nfnet_f0": "NFNet ScaledStdConv2dSame",
    "nasnetalarge": "NASNet cells, Conv2dSame, MaxPool2dSame, AvgPool2dSame",
    "pnasnet5large": "PNASNet cells, Conv2dSame, MaxPool2dSame",
    # convolutions with a twist
    "efficientnet_cc_b0_4e": "CondConv",
    "mixnet_s": "MixedConv",
    "resnetv2_50x1_bit": "BiT StdConv2d",
    "eca_nfnet_l0": "ScaledStdConv2d, ECA",
    "resnetblur18": "BlurPool2d",
    "tresnet_m": "SpaceToDepth, anti-aliased BlurPool2d",
    "repvgg_a0": "RepVGG blocks",
    "mobileone_s0": "MobileOne reparameterisable blocks",
    "fastvit_t8": "FastViT RepMixer",
    "convmixer_1024_20_ks9_p14": "ConvMixer",
    "ghostnet_100": "GhostNet ghost modules",
    "hrnet_w18_small": "HRNet multi-resolution fusion",
    "dla34": "DLA trees",
    "inception_v4": "Inception-v4",
    "xception41": "aligned Xception (separable convs)",
    "legacy_xception": "original Xception",
    "densenet121": "DenseNet concatenation",
    # attention gates
    "skresnet18": "selective-kernel attention",
    "resnest14d": "split attention",
    "ecaresnet26t": "ECA",
    "resnet18_cbam": "CBAM (timm ResNet with attn_layer='cbam')",
    "seresnet18": "SE",
    "ese_vovnet19b_dw": "effective SE (VoVNet)",
    "gcresnet33ts": "global context",
    # attention with positions, windows, partitions
    "swin_tiny_patch4_window7_224": "Swin windowed attention, rel-pos bias",
    "swinv2_cr_tiny_ns_224": "Swin-V2-CR scaled cosine attention, log-CPB",
    "coat_lite_tiny": "CoaT conv rel-pos encoding",
    "botnet26t_256": "BoTNet rel-pos bottleneck attention",
    "halonet26t": "HaloNet blocked attention",
    "lambda_resnet26t": "lambda layers",
    "mobilevit_xs": "MobileViT unfold/fold",
    "levit_128s": "LeViT",
    "crossvit_9_240": "CrossViT two-branch cross attention",
    "nest_tiny": "NesT nested blocks",
    "convit_tiny": "ConViT gated positional attention",
    "tiny_vit_5m_224": "TinyViT",
    "sequencer2d_s": "Sequencer2d bidirectional LSTMs",
    "mixer_s32_224": "MLP-Mixer",
    "gmlp_ti16_224": "gMLP spatial gating",
    "resmlp_12_224": "ResMLP affine",
    "eva02_tiny_patch14_224": "EVA-02 rotary embeddings, SwiGLU",
    "beit_base_patch16_224": "BEiT rel-pos bias",
    "deit_tiny_distilled_patch16_224": "DeiT distillation token",
    "cait_xxs24_224": "CaiT class attention, talking heads",
    "pit_ti_224": "PiT pooling",
    "tnt_s_patch16_224": "TNT inner/outer transformers",
    "twins_svt_small": "Twins locally-grouped and sub-sampled attention",
    "pvt_v2_b0": "PVT-v2 spatial-reduction attention",
    "volo_d1_224": "VOLO outlook attention (Unfold/Fold)",
    "xcit_nano_12_p16_224": "XCiT cross-covariance attention",
    "mvitv2_tiny": "MViTv2 pooled attention, rel-pos",
    "samvit_base_patch16": "SAM-ViT windowed attention, decomposed rel-pos",
    "davit_tiny": "DaViT spatial and channel attention",
    "hiera_tiny_224": "Hiera mask-unit attention",
    "gcvit_xxtiny": "GC-ViT global query attention",
    "efficientformerv2_s0": "EfficientFormerV2",
    "efficientvit_b0": "EfficientViT (MIT) linear attention",
    "efficientvit_m0": "EfficientViT (MSRA) cascaded group attention",
    "swiftformer_xs": "SwiftFormer additive attention",
    "edgenext_xx_small": "EdgeNeXt split depth-wise transposed attention",
    "poolformerv2_s12": "PoolFormer (MetaFormer)",
    # plain families, for breadth
    "resnet18": "ResNet",
    "efficientnet_b0": "EfficientNet",
    "mobilenetv3_large_100": "MobileNetV3, hard-swish, SE",
    "mobilenetv4_conv_small": "MobileNetV4 universal inverted bottleneck",
    "regnety_002": "RegNetY",
    "convnext_atto": "ConvNeXt",
    "mambaout_femto": "MambaOut gated CNN",
}  # fmt: skip

# a panel id that is not a registered name: (timm name, constructor kwargs)
VARIANTS = {"resnet18_cbam": ("resnet18", {"block_args": {"attn_layer": "cbam"}})}

# verify (a real CPU forward) of a giant runs on a smaller sibling of the same family
VERIFY_SIBLING = {
    "samvit_base_patch16": ("samvit_base_patch16_224", {}),  # 1024x1024 (486 GMACs) -> 224x224
    "sequencer2d_s": ("sequencer2d_s", {"layers": (1, 1, 1, 1)}),  # 18 LSTM blocks -> 4 (4 stages)
}
VERIFY_SIDE = 96  # for models timm marks fixed_input_size: False ...
VERIFY_DEFAULT_SIZE = {"halonet26t"}  # ... except these: halo blocks of 8 need maps divisible by 8

# proof that the panel holds each family the issue names: (panel id, a module class it must contain)
FAMILIES = {
    "dynamic-same conv": ("tf_efficientnet_b0", "Conv2dSame"),
    "dynamic-same max pool": ("vit_small_r26_s32_224", "MaxPool2dSame"),
    "dynamic-same avg pool": ("maxvit_tiny_tf_224", "AvgPool2dSame"),
    "CondConv": ("efficientnet_cc_b0_4e", "CondConv2d"),
    "MixedConv": ("mixnet_s", "MixedConv2d"),
    "std-conv": ("resnetv2_50x1_bit", "StdConv2d"),
    "std-conv, same": ("vit_small_r26_s32_224", "StdConv2dSame"),
    "scaled std-conv": ("eca_nfnet_l0", "ScaledStdConv2d"),
    "scaled std-conv, same": ("dm_nfnet_f0", "ScaledStdConv2dSame"),
    "blur pool": ("resnetblur18", "BlurPool2d"),
    "selective kernel": ("skresnet18", "SelectiveKernel"),
    "split attention": ("resnest14d", "SplitAttn"),
    "ECA": ("ecaresnet26t", "EcaModule"),
    "CBAM": ("resnet18_cbam", "CbamModule"),
    "SE": ("seresnet18", "SEModule"),
    "windowed attention, rel-pos bias": ("swin_tiny_patch4_window7_224", "WindowAttention"),
    "rel-pos attention (conv)": ("coat_lite_tiny", "ConvRelPosEnc"),
    "rel-pos attention (bottleneck)": ("botnet26t_256", "BottleneckAttn"),
    "MaxViT partitions": ("maxvit_tiny_tf_224", "PartitionAttentionCl"),
    "MobileViT unfold": ("mobilevit_xs", "MobileVitBlock"),
    "LeViT": ("levit_128s", "LevitDistilled"),
    "CrossViT": ("crossvit_9_240", "CrossVit"),
    "NesT": ("nest_tiny", "Nest"),
    "ConViT": ("convit_tiny", "ConVit"),
    "TinyViT": ("tiny_vit_5m_224", "TinyVit"),
    "Sequencer LSTMs": ("sequencer2d_s", "LSTM"),
    "MLP-Mixer": ("mixer_s32_224", "MlpMixer"),
    "gMLP": ("gmlp_ti16_224", "SpatialGatingUnit"),
    "ResMLP": ("resmlp_12_224", "Affine"),
    "ConvMixer": ("convmixer_1024_20_ks9_p14", "ConvMixer"),
    "RepVGG": ("repvgg_a0", "RepVggBlock"),
    "FastViT": ("fastvit_t8", "FastVit"),
    "HRNet": ("hrnet_w18_small", "HighResolutionNet"),
    "DLA": ("dla34", "DLA"),
    "NASNet": ("nasnetalarge", "NASNetALarge"),
    "PNASNet": ("pnasnet5large", "PNASNet5Large"),
    "Inception-v4": ("inception_v4", "InceptionV4"),
    "Xception": ("legacy_xception", "Xception"),
    "GhostNet": ("ghostnet_100", "GhostModule"),
    "EVA": ("eva02_tiny_patch14_224", "Eva"),
    "BEiT": ("beit_base_patch16_224", "Beit"),
    "DeiT": ("deit_tiny_distilled_patch16_224", "VisionTransformerDistilled"),
    "CaiT": ("cait_xxs24_224", "Cait"),
    "PiT": ("pit_ti_224", "PoolingVisionTransformer"),
    "TNT": ("tnt_s_patch16_224", "TNT"),
    "Twins": ("twins_svt_small", "LocallyGroupedAttn"),
    "PVT-v2": ("pvt_v2_b0", "PyramidVisionTransformerV2"),
    "VOLO": ("volo_d1_224", "OutlookAttention"),
    "XCiT": ("xcit_nano_12_p16_224", "XCA"),
    "MViTv2": ("mvitv2_tiny", "MultiScaleAttention"),
    "SAM-ViT": ("samvit_base_patch16", "VisionTransformerSAM"),
    "DaViT": ("davit_tiny", "DaVit"),
    "Hiera": ("hiera_tiny_224", "MaskUnitAttention"),
}  # fmt: skip

# known gaps in cnninspect (issue 14), each a strict xfail: the run fails when one is fixed
VERIFY_GAPS: dict[str, tuple[type[BaseException], str]] = {}


def _create(panel_id: str, **overrides) -> nn.Module:
    name, kwargs = VARIANTS.get(panel_id, (panel_id, {}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return timm.create_model(name, pretrained=False, **kwargs, **overrides).eval()


@cache
def meta_model(panel_id: str) -> nn.Module:
    """Built once on meta (no memory, no init) and shared by the tests that only read it."""
    with torch.device("meta"):
        return _create(panel_id)


def default_shape(model: nn.Module) -> tuple[int, ...]:
    return (1, *model.pretrained_cfg["input_size"])


@pytest.fixture(scope="module", autouse=True)
def eager_attention():
    """timm's fused attention is one SDPA kernel; eager attention is what the issue measures."""
    before = timm.layers.use_fused_attn()
    timm.layers.set_fused_attn(False)
    yield
    timm.layers.set_fused_attn(before)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_panel_holds_the_family(family):
    panel_id, layer_class = FAMILIES[family]
    assert panel_id in PANEL
    assert layer_class in {type(m).__name__ for m in meta_model(panel_id).modules()}


def test_panel_size():
    assert len(PANEL) >= 60


@pytest.mark.parametrize("panel_id", panel_params(PANEL, {}))
def test_meta_summary_params_and_macs(panel_id):
    model = meta_model(panel_id)
    shape = default_shape(model)
    reference = reference_macs(model, torch.empty(shape, device="meta"))
    summary = cnninspect.summarize(model, shape)
    assert_totals(summary, model, reference)


def verify_target(panel_id: str) -> tuple[nn.Module, tuple[int, ...]]:
    """The seeded CPU model verify runs on, and its input shape (see the module docstring)."""
    torch.manual_seed(0)
    name, kwargs = VERIFY_SIBLING.get(panel_id, (panel_id, {}))
    model = _create(name, **kwargs)
    shape = default_shape(model)
    if not model.pretrained_cfg.get("fixed_input_size", False) and panel_id not in VERIFY_DEFAULT_SIZE:
        shape = (*shape[:2], VERIFY_SIDE, VERIFY_SIDE)
    return model, shape


@pytest.mark.parametrize("panel_id", panel_params(PANEL, VERIFY_GAPS))
def test_verify_against_a_real_forward(panel_id):
    model, shape = verify_target(panel_id)
    report = cnninspect.verify(model, shape, gradient_layers="none")
    assert_verified(report)
