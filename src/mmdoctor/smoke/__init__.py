"""`mmdoctor smoke-test`: fetch a model-zoo checkpoint and run one real inference."""
