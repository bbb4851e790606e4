extensions = ["cnninspect.integrations.sphinx"]
project = "cnninspect-test-broken"
exclude_patterns = ["_build"]
