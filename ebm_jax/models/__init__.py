"""Models: autoencoders (VAE / AE) and, per area, the lecture's other EBMs."""
