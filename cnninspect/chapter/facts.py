"""The chapter's inputs and printed figures that cnninspect replays, as plain data.

The package carries its own copy so ``cnninspect chapter`` works from an install;
``tests/test_chapter.py`` holds every value here to the shared ``figures.json``.
Names follow that file's sections. ``PRINTED_*`` is what the chapter shows.
"""

from __future__ import annotations

from typing import Required, TypedDict


class PrintedConv(TypedDict, total=False):
    """A conv layer's printed figures, beside the input shape it was given."""

    input: Required[tuple[int, ...]]
    output: tuple[int, ...]
    weights: int
    biases: int
    params: int
    weight_shape: tuple[int, ...]
    bias_shape: tuple[int, ...]


class ConvExercise(TypedDict):
    input: tuple[int, int, int]  # H, W, C as the chapter writes it
    k: int
    s: int
    p: int
    cout: int
    answer: str


class LayersExercise(TypedDict):
    layers: tuple[tuple[int, int, int], ...]  # (cin, cout, k) per conv
    answer: tuple[int, ...]
    total: int


# 1.1 -- a 5x5 "cat" of three pixels, moved one pixel to the right
CAT_SIZE = (5, 5)
CAT_ONES = ((0, 1), (0, 3), (2, 2))
CAT_SHIFT = (0, 1)  # (dy, dx): one pixel to the right
PRINTED_CAT_DISTANCE = 2.45

# 1.1 -- a dense first layer on a 224x224x3 image
FC_INPUT = (224, 224, 3)
FC_UNITS = 1000
PRINTED_FC_INPUTS = 150_528
PRINTED_FC_WEIGHTS = 150_528_000

# 1.1 -- the overview diagram's valid-padding CNN, stage by stage (H, W, C or features)
OVERVIEW_STAGES = ((26, 26, 32), (13, 13, 32), (11, 11, 64), (5, 5, 64), (1600,), (128,), (10,))
OVERVIEW_PARAMS = 225_034  # not printed; what the layers the diagram implies hold

# 1.2 -- the worked convolution: valid cross-correlation, stride 1
CONV_IMAGE = (
    (1, 2, 3, 0, 1),
    (4, 5, 6, 1, 2),
    (7, 8, 9, 2, 3),
    (1, 2, 3, 4, 5),
    (2, 3, 4, 5, 6),
)
CONV_KERNEL = ((-1, -1, -1), (-1, 8, -1), (-1, -1, -1))
PRINTED_CONV_OUTPUT = ((-13, -15, -12), (-8, -9, -6), (-5, -6, 0))
PRINTED_REGION_00 = ((1, 2, 3), (4, 5, 6), (7, 8, 9))
PRINTED_PRODUCTS_00 = ((-1, -2, -3), (-4, 40, -6), (-7, -8, -9))
PRINTED_SUM_00 = -13

# 1.2 -- the kernel gallery: same-size output, mirror-extended border
GALLERY_KERNELS: dict[str, tuple[tuple[float, ...], ...]] = {
    "identity": ((0, 0, 0), (0, 1, 0), (0, 0, 0)),
    "sobel_vertical_edges": ((-1, 0, 1), (-2, 0, 2), (-1, 0, 1)),
    "sobel_horizontal_edges": ((-1, -2, -1), (0, 0, 0), (1, 2, 1)),
    "blur": ((1 / 9,) * 3,) * 3,
    "sharpen": ((0, -1, 0), (-1, 5, -1), (0, -1, 0)),
}
GALLERY_IMAGE = (
    (0, 0, 0, 0, 0, 0, 0),
    (0, 255, 255, 255, 255, 0, 0),
    (0, 255, 0, 0, 255, 0, 0),
    (0, 255, 0, 0, 255, 0, 0),
    (0, 255, 255, 255, 255, 0, 0),
    (0, 0, 0, 0, 0, 0, 0),
)
GALLERY_GRID = (2, 3)

# 1.2 -- output sizes: (n, k, s, p, printed out, label)
OUTPUT_SIZE_CASES = (
    (28, 3, 1, 0, 26, "valid"),
    (28, 3, 1, 1, 28, "same"),
    (28, 5, 2, 2, 14, "stride 2, padding 2"),
    (32, 3, 1, 1, 32, "32x32 image"),
)

# 1.3 -- Conv2d(3,16,3,padding=1) on 1x3x28x28
MULTICHANNEL: PrintedConv = {"input": (1, 3, 28, 28), "output": (1, 16, 28, 28), "weights": 432, "biases": 16, "params": 448}

# 1.3 -- the VGG-like stack: (kernel, stride) per layer, names, and the field after each layer
RF_LAYERS = ((3, 1), (3, 1), (2, 2), (3, 1), (3, 1), (2, 2))
RF_NAMES = ("Conv1 3x3", "Conv2 3x3", "MaxPool 2x2", "Conv3 3x3", "Conv4 3x3", "MaxPool 2x2")
PRINTED_RF = (1, 3, 5, 6, 8, 10, 11)

# 1.4 -- Conv2d(3,64,3,stride=1,padding=1) on 8x3x224x224
CONV2D_BASICS: PrintedConv = {
    "input": (8, 3, 224, 224), "output": (8, 64, 224, 224),
    "weight_shape": (64, 3, 3, 3), "bias_shape": (64,), "params": 1792,
}  # fmt: skip

# 1.4 -- the parameter table: (cin, cout, k, printed params)
PARAM_TABLE = ((3, 32, 3, 896), (32, 64, 3, 18_496), (64, 128, 3, 73_856),
               (128, 256, 3, 295_168), (3, 64, 7, 9_472), (512, 512, 3, 2_359_808))  # fmt: skip
PRINTED_FC_WITH_BIAS = 150_529_000
PRINTED_CONV_3_64 = 1792
PRINTED_REDUCTION = "100.00%"
FILTER_GRID = (2, 4)  # Conv2d(1,8,3,padding=1)

# 1.5
RELU_INPUT = (-2.0, -1.0, 0.0, 1.0, 2.0)
PRINTED_RELU = (0.0, 0.0, 0.0, 1.0, 2.0)
CONV_BLOCK = {"input": (1, 3, 224, 224), "output": (1, 64, 224, 224)}

# 1.6 -- SimpleCNN
SIMPLE_CNN_TENSORS = {
    "conv1.weight": 288, "conv1.bias": 32, "conv2.weight": 18_432, "conv2.bias": 64,
    "fc1.weight": 401_408, "fc1.bias": 128, "fc2.weight": 1280, "fc2.bias": 10,
}  # fmt: skip
PRINTED_SIMPLE_CNN_TOTAL = 421_066
TRAINING = {"normalize": (0.1307, 0.3081), "train_batch": 64, "test_batch": 1000,
            "optimizer": "adam", "lr": 0.001, "epochs": 3}  # fmt: skip
PRINTED_EPOCHS = (  # (train_loss, train_acc, test_loss, test_acc); runs differ with seeds
    (0.2145, 93.52, 0.0789, 97.56),
    (0.0701, 97.89, 0.0512, 98.34),
    (0.0512, 98.42, 0.0401, 98.67),
)
LEARNED_FILTERS_GRID = (4, 8)

# exercises
EX1: ConvExercise = {"input": (64, 64, 3), "k": 5, "s": 2, "p": 2, "cout": 128, "answer": "32x32x128"}
EX2: LayersExercise = {"layers": ((3, 64, 7), (64, 128, 3), (128, 256, 3)), "answer": (9472, 73_856, 295_168), "total": 378_496}
EX3 = {"answer": (3, 5, 7, 9)}
EX4_CUSTOM_CNN = 60_362
EX5 = {"fc": 150_529_000, "three_convs": (1792, 36_928, 36_928), "cnn_total": 75_648, "reduction": "99.95%"}

# The chapter's three errata: why each printed value is not what its inputs give.
ERRATA = {
    "conv.output": "the printed 3x3 output does not follow from the printed image and kernel "
    "(its own products for [0,0] are right but sum to 0)",
    "conv.sum_00": "the printed products -1-2-3-4+40-6-7-8-9 add up to 0, not -13",
    "simple_cnn.total": "the per-tensor list is right and sums to 421,642; the printed total drops 576",
    "simple_cnn.trainable": "every parameter is trainable, so this is the total's erratum again",
    "rf.sizes": "the formula R += K - 1 ignores the pools' stride: after a stride-2 pool each "
    "3x3 conv adds 2 x 2 = 4 input pixels, not 2",
}
