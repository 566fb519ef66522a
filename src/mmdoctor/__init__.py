"""mmdoctor: check, install and smoke-test PyTorch + mmcv + MMDetection on a GPU box."""

__version__ = "0.1.0"
