"""PyTorch references of our models for the benchmarks' peer processes (torch is imported only there)."""

from __future__ import annotations


def torch_vae(hidden: int, latent: int):
    """The practicum VAE, 784 → hidden → (mean, logvar) of ``latent`` → hidden → 784 Bernoulli logits.

    ``terms(x)`` gives the per-image reconstruction (Bernoulli NLL) and analytic KL of one reparameterized
    draw; calling the module gives the batch mean of their sum (the −ELBO). The layers are created in the
    order enc, mean, logvar, dec1, dec2, so that ``torch.manual_seed`` fixes the same initial weights.
    """
    import torch
    from torch import nn

    class TorchVAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.Linear(784, hidden)
            self.mean, self.logvar = nn.Linear(hidden, latent), nn.Linear(hidden, latent)
            self.dec1, self.dec2 = nn.Linear(latent, hidden), nn.Linear(hidden, 784)

        def terms(self, xb):
            h = torch.relu(self.enc(xb))
            mean, logvar = self.mean(h), self.logvar(h)
            z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
            logits = self.dec2(torch.relu(self.dec1(z)))
            recon = nn.functional.binary_cross_entropy_with_logits(logits, xb, reduction="none").sum(-1)
            kl = 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).sum(-1)
            return recon, kl

        def forward(self, xb):
            recon, kl = self.terms(xb)
            return (recon + kl).mean()

    return TorchVAE()
