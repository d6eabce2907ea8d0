"""CycleGAN: ResNet generator, image pool, unpaired datasets, the CycleGAN training scheme."""
