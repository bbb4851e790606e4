"""A factory that notes which process built it, so the test can see parallel readers at work."""

import os

from cnninspect.chapter.models import ConvBlock


def block(channels: int = 8) -> ConvBlock:
    log = os.environ.get("CNNINSPECT_TEST_PID_LOG")
    if log:
        with open(log, "a") as fh:
            fh.write(f"{os.getpid()}\n")
    return ConvBlock(3, channels)
