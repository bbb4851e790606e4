extensions = ["cnninspect.integrations.sphinx"]
project = "cnninspect-test-lint"
exclude_patterns = ["_build"]
