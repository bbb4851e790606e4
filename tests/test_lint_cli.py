"""``cnninspect lint`` as a user types it: exit codes, select/ignore, config, JSON, SARIF, baselines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cnninspect.integrations.cli import main

MODELS = Path(__file__).resolve().parent / "lint_models.py"
CLEAN = [f"{MODELS}:Clean", "--input-shape", "1,3,32,32"]
BIASED = [f"{MODELS}:Biased", "--input-shape", "1,3,32,32"]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["lint", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_clean_model_exits_0(capsys):
    code, out, err = run(capsys, *CLEAN, "--no-config")
    assert code == 0 and err == "" and "no findings from 12 rules" in out


def test_findings_exit_1_grouped_by_layer(capsys):
    code, out, _ = run(capsys, "simple-cnn", "--no-config")
    assert code == 1
    lines = out.splitlines()
    at = lines.index("fc1")
    assert lines[at + 1].startswith("  CNN102 fc1 (Linear 3,136->128) holds 401,408 of 421,642 parameters (95 %)")
    assert lines[at + 2].strip().startswith("fix: pool globally")
    assert lines[-1] == "1 finding (CNN102 x1) from 12 rules"


@pytest.mark.parametrize(
    ("options", "code"),
    [(["--select", "CNN2"], 0), (["--select", "CNN102"], 1), (["--ignore", "CNN1"], 0),
     (["--select", "CNN1", "--ignore", "CNN102"], 0), (["--select", "dominant-dense-layer"], 1)],
)  # fmt: skip
def test_select_and_ignore_by_code_prefix_or_name(capsys, options, code):
    assert run(capsys, "simple-cnn", "--no-config", *options)[0] == code


def test_unknown_code_is_a_usage_error(capsys):
    code, out, err = run(capsys, "simple-cnn", "--no-config", "--select", "CNN9")
    assert code == 2 and out == ""
    assert err.startswith("cnninspect lint: error: select: 'CNN9' names no lint rule") and len(err.splitlines()) == 1


def test_pyproject_config_ignores_and_per_layer_ignores(capsys, tmp_path):
    config = tmp_path / "pyproject.toml"
    config.write_text('[tool.cnninspect.lint]\nignore = ["CNN102"]\n')
    assert run(capsys, "simple-cnn", "--config", str(config))[0] == 0
    config.write_text('[tool.cnninspect.lint.per-layer-ignores]\n"features.*" = ["CNN101"]\n')
    code, out, _ = run(capsys, *BIASED, "--config", str(config))
    assert code == 0 and "1 suppressed per layer" in out
    config.write_text('[tool.cnninspect.lint.per-layer-ignores]\n"head.*" = ["CNN101"]\n')
    assert run(capsys, *BIASED, "--config", str(config))[0] == 1
    config.write_text('[tool.cnninspect.lint]\nselcet = ["CNN1"]\n')
    code, _, err = run(capsys, "simple-cnn", "--config", str(config))
    assert code == 2 and "unknown key(s) selcet" in err


def test_json_output(capsys):
    code, out, _ = run(capsys, *BIASED, "--no-config", "--format", "json")
    data = json.loads(out)
    assert code == 1 and data["schema"] == "cnninspect.lint/1" and data["ok"] is False
    assert data["input_shapes"] == [[1, 3, 32, 32]]
    [f] = data["findings"]
    assert f["code"] == "CNN101" and f["path"] == "features.0" and f["data"] == {"wasted_params": 16}
    assert {r["code"] for r in data["rules"]} >= {"CNN101", "CNN501"}
    assert all(set(r) == {"code", "name", "summary", "why", "reference", "fix"} for r in data["rules"])


def test_sarif_output(capsys, tmp_path):
    target = tmp_path / "lint.sarif"
    code, out, _ = run(capsys, *BIASED, "--no-config", "--format", "sarif", "--output", str(target))
    assert code == 1 and out == ""
    sarif = json.loads(target.read_text())
    assert sarif["version"] == "2.1.0" and sarif["$schema"].endswith("sarif-2.1.0.json")
    [run_] = sarif["runs"]
    rules = run_["tool"]["driver"]["rules"]
    assert run_["tool"]["driver"]["name"] == "cnninspect"
    assert [r["id"] for r in rules] == sorted(r["id"] for r in rules) and len(rules) == 12
    [result] = run_["results"]
    assert result["ruleId"] == "CNN101" and rules[result["ruleIndex"]]["id"] == "CNN101"
    assert result["level"] == "warning" and "features.0" in result["message"]["text"]
    [location] = result["locations"]
    assert location["logicalLocations"][0]["name"] == "features.0"
    assert location["physicalLocation"]["artifactLocation"]["uri"].endswith("lint_models.py")
    for rule in rules:  # every rule carries what SARIF viewers show
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"] and rule["help"]["text"]


def test_baseline_fails_only_on_new_findings(capsys, tmp_path):
    baseline = tmp_path / "baseline.json"
    code, out, _ = run(capsys, "simple-cnn", "--no-config", "--write-baseline", str(baseline))
    assert code == 0 and "wrote 1 finding(s)" in out
    entries = json.loads(baseline.read_text())["findings"]
    assert entries == [{"model": "simple-cnn", "code": "CNN102", "path": "fc1"}]
    code, out, _ = run(capsys, "simple-cnn", "--no-config", "--baseline", str(baseline))
    assert code == 0 and "1 in the baseline" in out
    # a new finding (an object size the field does not cover) fails, the known one stays quiet
    code, out, _ = run(capsys, "simple-cnn", "--no-config", "--baseline", str(baseline), "--object-size", "12")
    assert code == 1 and "CNN203" in out and "CNN102 fc1" not in out


def test_broken_baseline_is_a_usage_error(capsys, tmp_path):
    bad = tmp_path / "baseline.json"
    bad.write_text('{"findings": []}')
    code, _, err = run(capsys, "simple-cnn", "--no-config", "--baseline", str(bad))
    assert code == 2 and "is not a cnninspect lint baseline" in err and "--write-baseline" in err


def test_list_rules(capsys):
    code, out, _ = run(capsys, "--list-rules")
    assert code == 0 and len(out.splitlines()) == 12 and out.startswith("CNN101  bias-before-norm")


def test_api_errors_and_per_layer_ignores():
    from lint_models import Biased

    from cnninspect import lint
    from cnninspect.errors import ModelError, OptionError

    with pytest.raises(ModelError, match="lint\\(\\) needs a torch.nn.Module, got str"):
        lint("resnet18", (1, 3, 224, 224))
    with pytest.raises(OptionError, match="ignore: 'CNN0' names no lint rule"):
        lint(Biased(), (1, 3, 32, 32), ignore=["CNN0"])
    report = lint(Biased(), (1, 3, 32, 32), per_layer_ignores={"features.0": ["CNN1"]})
    assert report.ok and [f.code for f in report.suppressed] == ["CNN101"]
