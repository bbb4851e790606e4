extensions = ["cnninspect.integrations.sphinx"]
project = "cnninspect-test-summary"
exclude_patterns = ["_build"]
