"""Every lint rule's documentation -- code, name, what it finds, why, reference, fix -- in one table.

As in ruff, the table is the one place a rule is described: ``cnninspect lint --list-rules``, the
JSON and SARIF reports and the Sphinx directive read it, and a check in a family module registers
under its code alone (``@rule("CNN201")``); :mod:`cnninspect.analyses.lint.registry` joins the two.
"""

from __future__ import annotations

from cnninspect.analyses.lint.findings import RuleDoc

DOCS: tuple[RuleDoc, ...] = (
    RuleDoc(
        "CNN101", "bias-before-norm",
        summary="a conv or linear bias directly followed by a normalisation that subtracts it again",
        why="BatchNorm (and InstanceNorm, GroupNorm with one channel per group) subtracts each channel's "
            "mean, and a bias only shifts that mean: it cancels exactly and its parameters never change "
            "the output. The norm's own beta is the shift that survives.",
        reference="Ioffe & Szegedy, Batch Normalization, ICML 2015, section 3.2 ('the bias b can be ignored').",
        fix="build the layer with bias=False",
    ),
    RuleDoc(
        "CNN102", "dominant-dense-layer",
        summary="one dense layer holds most of the model's parameters reading a flattened feature map",
        why="A dense layer on a flattened CxHxW map needs a weight per position: it holds most of the "
            "model (VGG-16's fc6: 74 %) and ties the classifier to the input size. Global average pooling "
            "first keeps one weight per channel; that is the chapter's FC-vs-conv lesson.",
        reference="Lin, Chen & Yan, Network in Network, ICLR 2014 (global average pooling); "
                  "Szegedy et al., Going Deeper with Convolutions, CVPR 2015; `cnninspect fc`.",
        fix="pool globally (nn.AdaptiveAvgPool2d(1)) before flattening, or replace the layer by a 1x1 conv",
    ),
    RuleDoc(
        "CNN103", "unused-parameters",
        summary="modules or parameters the forward never uses",
        why="They are saved, loaded, counted in the model's size and handed to the optimiser (weight "
            "decay still moves them), yet no output depends on them. Often a leftover from an edit, or "
            "a training-only branch (an auxiliary classifier) that eval mode skips.",
        reference="PyTorch DistributedDataParallel docs: find_unused_parameters exists because of them.",
        fix="delete the module, or call it; for a training-only branch, lint the model in train() mode",
    ),
    RuleDoc(
        "CNN104", "stale-buffer",
        summary="a buffer the forward never reads, or BatchNorm statistics never updated for trained weights",
        why="A buffer nobody reads is state that is saved and loaded for nothing, and usually a sign "
            "that code and checkpoint disagree. A BatchNorm in eval mode whose running statistics are "
            "still the initial mean 0 / variance 1 while its affine weights have moved normalises with "
            "statistics of no data: the classic 'accuracy collapses in eval mode' bug.",
        reference="PyTorch docs, torch.nn.BatchNorm2d (running_mean/running_var, track_running_stats); "
                  "Ioffe & Szegedy 2015, section 3.1 (inference uses population statistics).",
        fix="delete the buffer; for BatchNorm, run training batches in train() mode (or load the "
            "checkpoint's running statistics) before evaluating",
    ),
    RuleDoc(
        "CNN201", "skipped-pixels",
        summary="a window smaller than its stride: input pixels between windows are never read",
        why="With kernel k < stride s (e.g. a 1x1 stride-2 conv) each window starts s pixels after the "
            "last one ended, so (s-k)/s of the input along that axis is never read by this layer. "
            "ResNet's strided 1x1 shortcut reads 1/4 of its input; the block's 3x3 branch reads the rest. "
            "Where no other path reads them, that information is lost.",
        reference="He et al., Bag of Tricks for Image Classification, CVPR 2019, section 4.1 "
                  "(ResNet-D: 'the 1x1 convolution with stride 2 ignores three-quarters of the input').",
        fix="make the kernel at least the stride, or pool first (ResNet-D: 2x2 average pool, then a "
            "stride-1 1x1 conv)",
    ),
    RuleDoc(
        "CNN202", "dropped-border",
        summary="the floor in the output-size formula drops the input's last rows or columns",
        why="out = floor((n + 2p - k)/s) + 1: when (n + 2p - k) is not a multiple of s the last window "
            "ends before the input does, and the rows after it are read by no output unit of this layer. "
            "The model silently ignores part of the image's border for this input size.",
        reference="Dumoulin & Visin, A guide to convolution arithmetic for deep learning, 2016, "
                  "relationship 5 (the floor and the ignored bottom/right units).",
        fix="use an input size that the layer tiles exactly (the message names the nearest), or pad, "
            "or use ceil_mode=True for pooling",
    ),
    RuleDoc(
        "CNN203", "small-receptive-field",
        summary="the last feature map's field is smaller than the declared object size, or a spatial "
                "output's field smaller than the input",
        why="A unit can only respond to what its receptive field covers: an object larger than the "
            "field is never seen whole by any single unit of the last feature map. Without a declared "
            "object size the model's own outputs are compared with the input: a dense (per-pixel) "
            "output whose units see less than the image; a head that pools or flattens globally "
            "sees everything. The message names the layer where the field first covers the target.",
        reference="Luo et al., Understanding the Effective Receptive Field in Deep CNNs, NeurIPS 2016; "
                  "Araujo, Norris & Sim, Computing Receptive Fields of CNNs, Distill 2019.",
        fix="add depth, stride or dilation before the last feature map, or declare the object size "
            "you need (object-size) instead of the whole input",
    ),
    RuleDoc(
        "CNN301", "misaligned-merge",
        summary="an add, cat or mul of paths whose grids disagree: different jumps, or offsets apart",
        why="Unit i of each input must describe the same place of the image for an elementwise merge to "
            "mean anything. Different jumps mean unit i sits at different places; equal jumps with "
            "different starts shift one map against the other, by a fraction of a pixel for even kernels "
            "with 'same' padding or for transposed convolutions.",
        reference="Araujo, Norris & Sim, Computing Receptive Fields of CNNs, Distill 2019 (alignment of "
                  "paths); Odena, Dumoulin & Olah, Deconvolution and Checkerboard Artifacts, Distill 2016.",
        fix="use odd kernels with padding (k-1)/2, the same stride on every path, or crop/pad one "
            "path by the offset the message gives",
    ),
    RuleDoc(
        "CNN302", "checkerboard-transposed-conv",
        summary="a transposed convolution whose kernel size is not divisible by its stride",
        why="Each output pixel then receives a different number of kernel taps depending on its position "
            "modulo the stride (uneven overlap), which paints a checkerboard onto the output that training "
            "has to fight.",
        reference="Odena, Dumoulin & Olah, Deconvolution and Checkerboard Artifacts, Distill 2016.",
        fix="make the kernel a multiple of the stride (k=4, s=2), or upsample (nearest/bilinear) and "
            "then apply a stride-1 convolution",
    ),
    RuleDoc(
        "CNN401", "collapsing-linear-maps",
        summary="two linear maps in a row with no non-linearity between them, costing more than the one they equal",
        why="A composition of linear maps is one linear map (through BatchNorm at inference, pooling by "
            "averaging and reshapes): without an activation between them the second layer adds no "
            "expressive power -- the chapter's ReLU lesson. Reported only when the single equivalent "
            "layer has no more weights than the pair; a pair that is cheaper (a bottleneck, a separable "
            "or stacked-3x3 factorisation, MobileNetV2's linear bottleneck) is a deliberate low-rank "
            "factorisation and is not reported.",
        reference="Goodfellow, Bengio & Courville, Deep Learning, 2016, section 6.1 (XOR: a linear "
                  "model of a linear model is linear); Sandler et al., MobileNetV2, CVPR 2018 (when a "
                  "linear bottleneck is wanted).",
        fix="put a non-linearity (ReLU) between the two layers, or replace both by the one layer the "
            "message names",
    ),
    RuleDoc(
        "CNN402", "batchnorm-after-dropout",
        summary="a BatchNorm reading the output of a Dropout",
        why="Dropout scales its surviving units by 1/(1-p) in training and not at all in eval, so the "
            "variance the BatchNorm sees at training time is not the one it meets at test time: its "
            "running variance is wrong for inference ('variance shift').",
        reference="Li, Chen, Hu & Yang, Understanding the Disharmony between Dropout and Batch "
                  "Normalization by Variance Shift, CVPR 2019.",
        fix="move the Dropout after the last BatchNorm (just before the classifier), or drop it",
    ),
    RuleDoc(
        "CNN501", "tensor-core-channels",
        summary="in fp16/bf16, a conv or linear layer whose channel counts are not multiples of 8",
        why="Tensor cores multiply fp16/bf16 tiles whose channel dimensions are multiples of 8; other "
            "counts are padded or fall back to slower kernels. Only reported when the model runs in "
            "half precision (its parameters, or precision = 'bfloat16' / --precision).",
        reference="NVIDIA Deep Learning Performance Guide, 'Tensor Core Requirements' (channels and "
                  "features multiples of 8 for FP16).",
        fix="round the channel count to a multiple of 8 (e.g. 30 -> 32); the first layer's input "
            "channels (RGB) are exempt",
    ),
)  # fmt: skip
