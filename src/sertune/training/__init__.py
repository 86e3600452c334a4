"""Training: SqueezeNet, one training run (fit, CUDA graphs, devices, checkpoints), data on a device, metrics, K repetitions."""
