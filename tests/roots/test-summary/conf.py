extensions = ["cnninspect.sphinx"]
project = "cnninspect-test-summary"
exclude_patterns = ["_build"]
