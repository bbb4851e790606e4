import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

extensions = ["cnninspect.integrations.sphinx"]
project = "cnninspect-test-parallel"
exclude_patterns = ["_build"]
