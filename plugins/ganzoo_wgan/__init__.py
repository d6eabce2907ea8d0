"""WGAN-GP and DCGAN: DCGAN-style generator and critic, MLPs for 2-D data, image and toy datasets."""
