"""The pytest plugin's budgets, run the way a user runs them: inside a pytest of its own (pytester).

Expected figures are worked out by hand from the layer formulas, not read from cnninspect:
SimpleCNN's tensors are 288 + 32 + 18,432 + 64 + 401,408 + 128 + 1,280 + 10 = 421,642
parameters (fc1 alone 3136*128 + 128 = 401,536, i.e. 95.2 %), its MACs are
28*28*32*9 + 14*14*64*288 + 3136*128 + 128*10 = 4,241,152, and ConvBlock (3->32, 3x3,
padding 1) costs 32*27 = 864 MACs per output pixel.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

# pytester's in-process runs forget the modules an inner run imported, and torch, numpy or
# torchvision imported a second time crash the interpreter: import them here, once, for good.
import numpy  # noqa: F401
import pytest
import torch  # noqa: F401
import torchvision  # noqa: F401
from plugin_runs import QUIET  # noqa: E402

import cnninspect.engine.summary  # noqa: F401
import cnninspect.integrations.spec  # noqa: F401
from cnninspect.analyses.budgets import parse_size
from cnninspect.errors import OptionError

pytest_plugins = ["pytester"]

SIMPLE_PARAMS = 288 + 32 + 18_432 + 64 + 401_408 + 128 + 1_280 + 10
SIMPLE_MACS = 28 * 28 * 32 * 9 + 14 * 14 * 64 * 288 + 3136 * 128 + 128 * 10


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """An in-process pytest run with the plugin loaded from its entry point, as a user gets it."""
    return pytester.runpytest_inprocess(*QUIET, *args)




# --------------------------------------------------------------------------- sizes


@pytest.mark.parametrize(
    ("text", "unit", "expected"),
    [
        ("25M", "count", 25_000_000),
        ("4.1G", "count", 4_100_000_000),
        ("500K", "count", 500_000),
        ("25_000_000", "count", 25_000_000),
        (1e6, "count", 1_000_000),
        (12345, "count", 12345),
        ("100MB", "bytes", 100_000_000),
        ("1.5GiB", "bytes", 3 * 2**29),
        ("64KiB", "bytes", 65_536),
    ],
)
def test_parse_size(text, unit, expected):
    assert parse_size(text, "max_x", unit=unit) == expected


@pytest.mark.parametrize(
    ("value", "unit", "words"),
    [
        ("25X", "count", ["'25X'", "unknown suffix 'X'"]),
        ("lots", "count", ["'lots'", "is not a size", "'25M'"]),
        ("100MB", "count", ["'100MB'", "byte size", "drop the B"]),
        ("1GiB", "count", ["'1GiB'", "byte size"]),
        (-5, "count", ["-5", "negative"]),
        (True, "count", ["True", "bool"]),
        ([1], "count", ["[1]", "list"]),
    ],
)
def test_bad_size_names_value_and_origin(value, unit, words):
    with pytest.raises(OptionError) as info:
        parse_size(value, "max_params", "arch_budget marker", unit=unit)
    message = str(info.value)
    assert "max_params=" in message and "(from the arch_budget marker)" in message
    for word in words:
        assert word in message


# --------------------------------------------------------------------------- fixture


def test_passing_and_failing_budget(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        f"""
        def test_fits(arch_budget, simple_cnn):
            summary = arch_budget(simple_cnn, max_params="500K", max_macs="5M", output_shape="1x10",
                                  max_trainable_params={SIMPLE_PARAMS}, max_param_bytes="2MB")
            assert summary.total_params == {SIMPLE_PARAMS}

        def test_too_big(arch_budget, simple_cnn):
            arch_budget(simple_cnn, (1, 1, 28, 28), max_params="400K", max_macs="5M", max_layers=11)

        def test_too_costly(arch_budget, simple_cnn):
            arch_budget(simple_cnn, max_macs="4M", max_param_bytes="1.5MiB", output_shape=(1, 1000))

        def test_too_deep(arch_budget):
            arch_budget("simple-cnn", max_layers=3)
        """
    )
    result = run(pytester)
    result.assert_outcomes(passed=1, failed=3)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*_ test_too_big _*",
            "Architecture budget exceeded for SimpleCNN @ 1x1x28x28: params 421.64 K > max 400.00 K",
            "",
            "Top 4 layers by share of parameters:",
            "  fc1 * Linear * 401,536 * 95.2%",
            "  conv2 * Conv2d * 18,496 * 4.4%",
            "  fc2 * Linear * 1,290 * 0.3%",
            "  conv1 * Conv2d * 320 * 0.1%",
            "*_ test_too_costly _*",
            # 421,642 float32 parameters = 1,686,568 bytes > 1.5 MiB = 1,572,864 bytes
            "Architecture budget exceeded for SimpleCNN @ 1x1x28x28: MACs 4.24 M > max 4.00 M; "
            "param bytes 1.69 MB > max 1.57 MB; output shape 1x10 != 1x1000",
            "",
            "Top 4 layers by share of MACs:",
            "  conv2 * Conv2d * 3,612,672 * 85.2%",
            "  fc1 * Linear * 401,408 * 9.5%",
            "  conv1 * Conv2d * 225,792 * 5.3%",
            "  fc2 * Linear * 1,280 * 0.0%",
            "",
            "Top 4 layers by share of parameters:",
            "*_ test_too_deep _*",
            "Architecture budget exceeded for SimpleCNN @ 1x1x28x28: layers 11 > max 3",
        ]
    )
    # the failure is the message itself: no Python traceback, no chained exception
    result.stdout.no_fnmatch_line("*During handling of the above exception*")
    result.stdout.no_fnmatch_line("*raise*")


def test_failure_names_the_resnet18_budget_like_the_issue(pytester: pytest.Pytester) -> None:
    # torchvision's resnet18: 11,689,512 parameters, 1.81 GMACs at 224x224 (its model card);
    # layer4.1.conv2 holds 512*512*9 = 2,359,296 of them: 20.2 %.
    pytester.makepyfile(
        """
        import torch, torchvision

        def test_resnet18(arch_budget):
            with torch.device("meta"):
                model = torchvision.models.resnet18()
            arch_budget(model, (1, 3, 224, 224), max_params="10M", max_macs="1G")
        """
    )
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "Architecture budget exceeded for ResNet @ 1x3x224x224: "
            "params 11.69 M > max 10.00 M; MACs 1.81 G > max 1.00 G",
            "Top 10 layers by share of parameters:",
            "  layer4.?.conv2 * Conv2d * 2,359,296 * 20.2%",
            "Top 10 layers by share of MACs:",
        ]
    )


def test_marker_then_command_line_then_ini_each_field_on_its_own(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        """
        [pytest]
        arch_budget_input_shape = 1,3,8,8
        arch_budget_max_macs = 1
        """
    )
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.arch_budget(input_shape=(1, 3, 4, 4), max_params="0.5K")
        def test_marker_shape(arch_budget):
            arch_budget("conv-block")

        def test_no_marker(arch_budget):
            arch_budget("conv-block")

        @pytest.mark.arch_budget(max_macs="1G", max_params=1)
        def test_call_beats_marker(arch_budget):
            arch_budget("conv-block", (1, 3, 2, 2), max_params="1M", max_macs=100)

        @pytest.mark.arch_budget(max_layers=1)
        class TestScopes:
            @pytest.mark.arch_budget(max_layers=2, max_macs="1G")
            def test_closest_marker_wins(self, arch_budget):
                arch_budget("conv-block")

            def test_class_marker(self, arch_budget):
                arch_budget("conv-block", max_macs="1G")
        """
    )
    # ConvBlock: 864 MACs per output pixel; 4x4 -> 13,824; 16x16 -> 221,184; 8x8 -> 55,296;
    # 2x2 -> 3,456; 896 parameters (3*32*9 + 32).
    result = run(pytester, "--arch-input-shape", "1,3,16,16")
    result.assert_outcomes(passed=1, failed=4)
    result.stdout.fnmatch_lines(
        [
            "*_ test_marker_shape _*",
            "Architecture budget exceeded for ConvBlock @ 1x3x4x4: params 896 > max 500; "
            "MACs 13.82 K > max 1",
            "*_ test_no_marker _*",
            "Architecture budget exceeded for ConvBlock @ 1x3x16x16: MACs 221.18 K > max 1",
            "*_ test_call_beats_marker _*",
            "Architecture budget exceeded for ConvBlock @ 1x3x2x2: MACs 3.46 K > max 100",
            "*_ TestScopes.test_class_marker _*",
            "Architecture budget exceeded for ConvBlock @ 1x3x16x16: layers 2 > max 1",
        ]
    )
    # without the command line the ini shape is used
    result = run(pytester, "-k", "no_marker")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["Architecture budget exceeded for ConvBlock @ 1x3x8x8: MACs 55.30 K > max 1"]
    )


def test_bad_values_say_where_they_came_from(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        def test_call(arch_budget):
            arch_budget("simple-cnn", max_params="25X")

        @pytest.mark.arch_budget(max_macs="lots")
        def test_marker(arch_budget):
            arch_budget("simple-cnn")

        def test_bytes_for_a_count(arch_budget):
            arch_budget("simple-cnn", max_params="100MB")

        def test_shape(arch_budget):
            arch_budget("simple-cnn", (1, 3, 28, 28), max_params="1M")

        def test_no_limit(arch_budget):
            arch_budget("simple-cnn")
        """
    )
    result = run(pytester)
    result.assert_outcomes(failed=5)
    result.stdout.fnmatch_lines(
        [
            "max_params='25X' (from the call) has an unknown suffix 'X'; use K, M, G, T",
            "max_macs='lots' (from the arch_budget marker) is not a size;*'25M'*",
            "max_params='100MB' (from the call) is a byte size, but max_params counts parameters*",
            "arch_budget: layer 'conv1' (Conv2d)*input of shape 1x3x28x28*",
            "arch_budget: no limit to check; pass at least one of max_params*",
        ]
    )
    result.stdout.no_fnmatch_line("*Traceback*")


def test_bad_command_line_and_config_values_stop_the_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = run(pytester, "--arch-input-shape", "1,x,3")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*input_shape*'1,x,3'*(from the command line (--arch-input-shape))*"]
    )

    pytester.makeini("[pytest]\narch_budget_max_param_bytes = 12QB\n")
    result = run(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*max_param_bytes='12QB' (from the config file (arch_budget_max_param_bytes in tox.ini))*"]
    )


def test_unknown_or_positional_marker_arguments(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.arch_budget(max_parms="1M")
        def test_typo(arch_budget):
            arch_budget("simple-cnn", max_params="1M")

        @pytest.mark.arch_budget("1M")
        def test_positional(arch_budget):
            arch_budget("simple-cnn", max_params="1M")
        """
    )
    result = run(pytester)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "unknown budget keyword 'max_parms' (from the arch_budget marker); the keywords are: "
            "input_shape, max_params, *",
            "@pytest.mark.arch_budget takes keywords only, got positional ('1M',)*",
        ]
    )


def test_receptive_field_limits_are_checked_or_refused(pytester: pytest.Pytester) -> None:
    # SimpleCNN's last spatial row (the second pool) sees 10x10 input pixels:
    # conv3 -> 3, pool2 -> 4, conv3 (jump 2) -> 8, pool2 -> 10.
    pytester.makepyfile(
        """
        def test_min(arch_budget):
            arch_budget("simple-cnn", min_receptive_field=11)

        def test_max(arch_budget):
            arch_budget("simple-cnn", max_receptive_field=9)

        def test_within(arch_budget):
            arch_budget("simple-cnn", min_receptive_field=10, max_receptive_field=10)
        """
    )
    result = run(pytester)
    # receptive fields are core: the limits are checked, never refused
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*SimpleCNN @ 1x1x28x28: receptive field 10 < min 11",
            "*SimpleCNN @ 1x1x28x28: receptive field 10 > max 9",
        ]
    )
    result.stdout.no_fnmatch_line("*cannot be checked*")


# --------------------------------------------------------------------------- pyproject.toml


PYPROJECT = """
[tool.pytest.ini_options]

[tool.cnninspect.budgets."cnninspect.chapter.models:SimpleCNN"]
input_shape = [1, 1, 28, 28]
max_params = "400K"
max_macs = "5M"

[tool.cnninspect.budgets."cnninspect.chapter.models:CustomCNN"]
max_params = "100K"

[tool.cnninspect.budgets."localmodels:Tiny"]
input_shape = "1x3x16x16"
max_macs = 1000

[tool.cnninspect.budgets."cnninspect.chapter.models:ConvBlock"]
max_parms = "1M"
"""


def test_pyproject_budgets_are_items_with_arch(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", pyproject=PYPROJECT)
    pytester.makepyfile(
        localmodels="""
        from torch import nn

        class Tiny(nn.Sequential):
            def __init__(self):
                super().__init__(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU())
        """
    )
    pytester.syspathinsert()
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")

    # without --arch the table is inert
    result = run(pytester, "-v")
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("*arch_budget[*")

    result = run(pytester, "-v", "--arch", "-rA")
    result.assert_outcomes(passed=2, failed=3)
    result.stdout.fnmatch_lines(
        ["cnninspect: --arch: 4 architecture budget(s) from pyproject.toml"]
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines_random(
        [
            "Architecture budget exceeded for SimpleCNN @ 1x1x28x28: params 421.64 K > max 400.00 K",
            # 16*16 pixels * 4 channels * 27 = 27,648 MACs
            "Architecture budget exceeded for Tiny @ 1x3x16x16: MACs 27.65 K > max 1.00 K",
            "unknown budget keyword 'max_parms' (from the config file (pyproject.toml, "
            '[[]tool.cnninspect.budgets."cnninspect.chapter.models:ConvBlock"[]])); the keywords are:*',
        ]
    )


def test_pyproject_budget_items_outcomes(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", pyproject=PYPROJECT)
    pytester.makepyfile(
        localmodels="""
        from torch import nn

        class Tiny(nn.Sequential):
            def __init__(self):
                super().__init__(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU())
        """
    )
    pytester.syspathinsert()
    result = run(pytester, "-v", "--arch")
    outcomes = {
        line.split(" ")[0]: line.split(" ")[1]
        for line in result.stdout.lines
        if line.startswith("pyproject.toml::")
    }
    assert outcomes == {
        "pyproject.toml::arch_budget[cnninspect.chapter.models:SimpleCNN]": "FAILED",
        "pyproject.toml::arch_budget[cnninspect.chapter.models:CustomCNN]": "PASSED",
        "pyproject.toml::arch_budget[localmodels:Tiny]": "FAILED",
        "pyproject.toml::arch_budget[cnninspect.chapter.models:ConvBlock]": "FAILED",
    }
    # -k picks among the budget items like among tests
    result = run(pytester, "--arch", "-k", "CustomCNN")
    result.assert_outcomes(passed=1, deselected=3)


def test_unreadable_pyproject_budgets_name_file_and_key(pytester: pytest.Pytester) -> None:
    # broken TOML: pytest or the plugin, whichever reads it first, names the file and the place
    pytester.makefile(".toml", pyproject='[tool.cnninspect.budgets."x:Net"\nmax_params = 1\n')
    result = run(pytester, "--arch")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*/pyproject.toml: *line 1*"])

    pytester.makefile(
        ".toml",
        pyproject="""
        [tool.cnninspect]
        budgets = 3
        """,
    )
    result = run(pytester, "--arch")
    assert result.ret == pytest.ExitCode.INTERRUPTED or result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*pyproject.toml: [[]tool.cnninspect.budgets[]] must be a table*"])

    pytester.makefile(
        ".toml",
        pyproject="""
        [tool.cnninspect.budgets]
        "cnninspect.chapter.models:SimpleCNN" = "25M"
        "nosuchpkg.models:Net" = {max_params = "1M"}
        """,
    )
    result = run(pytester, "--arch")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines_random(
        [
            'pyproject.toml: [[]tool.cnninspect.budgets."cnninspect.chapter.models:SimpleCNN"[]] must be a '
            "table with input_shape and limits, got str '25M'",
            "*model spec 'nosuchpkg.models:Net': no module named 'nosuchpkg'*",
        ]
    )


# --------------------------------------------------------------------------- reporting


def test_help_and_markers_show_the_plugin(pytester: pytest.Pytester) -> None:
    result = run(pytester, "--help")
    result.stdout.fnmatch_lines(
        [
            "cnninspect: architecture budgets and snapshots:",
            "*--arch *also collect the architecture budgets declared in*",
            "*--arch-input-shape=SHAPE*",
            "*--arch-snapshot-update*",
            "*--mnist-root=DIR*",
        ]
    )
    result.stdout.fnmatch_lines_random(
        [
            "*arch_budget_input_shape (string):*",
            "*arch_budget_max_params (string):*",
            "*mnist_root (string):*",
        ]
    )
    result = run(pytester, "--markers")
    result.stdout.fnmatch_lines(
        [
            "@pytest.mark.arch_budget(*, input_shape=None, max_params=None, max_trainable_params=None, "
            "max_macs=None, max_param_bytes=None, min_receptive_field=None, max_receptive_field=None, "
            "output_shape=None, max_layers=None): *"
        ]
    )
    result = run(pytester, "--fixtures")
    result.stdout.fnmatch_lines_random(
        [
            "arch_budget -- *",
            "*Check a model against an architecture budget*",
            "arch_snapshot -- *",
            "simple_cnn -- *",
            "custom_cnn -- *",
            "mnist_root -- *",
            "cnn_trainer -- *",
        ]
    )


def test_junit_xml_carries_the_failure_text(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_too_big(arch_budget, simple_cnn):
            arch_budget(simple_cnn, max_params="400K")
        """
    )
    result = run(pytester, "--junitxml=report.xml")
    result.assert_outcomes(failed=1)
    case = (
        ET.parse(pytester.path / "report.xml").getroot().find(".//testcase[@name='test_too_big']")
    )
    failure = case.find("failure")
    assert failure is not None
    headline = (
        "Architecture budget exceeded for SimpleCNN @ 1x1x28x28: params 421.64 K > max 400.00 K"
    )
    assert headline in failure.get("message")
    assert headline in failure.text
    assert "fc1" in failure.text and "401,536" in failure.text and "95.2%" in failure.text


def test_ini_defaults_from_pyproject_accept_toml_numbers_and_lists(
    pytester: pytest.Pytester,
) -> None:
    pytester.makefile(
        ".toml",
        pyproject="""
        [tool.pytest.ini_options]
        arch_budget_input_shape = [1, 3, 4, 4]
        arch_budget_max_macs = 1000
        """,
    )
    pytester.makepyfile("def test_block(arch_budget):\n    arch_budget('conv-block')\n")
    result = run(pytester)
    result.assert_outcomes(failed=1)
    # ConvBlock on 4x4: 16 pixels * 32 channels * 27 = 13,824 MACs
    result.stdout.fnmatch_lines(
        ["Architecture budget exceeded for ConvBlock @ 1x3x4x4: MACs 13.82 K > max 1.00 K"]
    )
