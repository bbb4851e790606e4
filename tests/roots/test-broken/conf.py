extensions = ["cnninspect.sphinx"]
project = "cnninspect-test-broken"
exclude_patterns = ["_build"]
