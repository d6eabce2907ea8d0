"""pix2pix: U-Net generator, PatchGAN discriminator, paired datasets, the pix2pix training scheme."""
