extensions = ["cnninspect.integrations.sphinx"]
project = "cnninspect-test-directives"
exclude_patterns = ["_build"]
cnninspect_image_formats = ["svg", "png"]
