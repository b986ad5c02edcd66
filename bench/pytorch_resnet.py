#!/usr/bin/python3
"""pythae's MNIST ResNet VAE (Encoder_ResNet_VAE_MNIST, Decoder_ResNet_AE_MNIST in
pythae/models/nn/benchmarks/mnist/resnets.py), written out in plain PyTorch 1.13 so
that vae-train --arch resnet can be compared with it. Prints the parameter count.

    bench/pytorch_resnet.py [LATENT]      (default 16)

Training it on Fashion-MNIST with vaekit's recipe (Bernoulli likelihood on the
[0,1] grey levels, not binarised, as vae-train reads idx2stream's u8 records):

    bench/pytorch_vae.py --arch resnet --latent 16 --epochs 10 --threads 1 \
        --train-images .../train-images-idx3-ubyte.gz --test-images .../t10k-images-idx3-ubyte.gz
"""
import sys

import torch
from torch import nn


class ResBlock(nn.Module):
    def __init__(self, channels, inner):
        super().__init__()
        self.body = nn.Sequential(nn.ReLU(), nn.Conv2d(channels, inner, 3, 1, padding=1),
                                  nn.ReLU(), nn.Conv2d(inner, channels, 1, 1))

    def forward(self, x):
        return x + self.body(x)


class Encoder(nn.Module):
    def __init__(self, latent):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(1, 64, 4, 2, padding=1),      # 28 -> 14, no activation
            nn.Conv2d(64, 128, 4, 2, padding=1),    # 14 -> 7
            nn.Conv2d(128, 128, 3, 2, padding=1),   # 7 -> 4
            ResBlock(128, 32), ResBlock(128, 32))
        self.mu = nn.Linear(128 * 4 * 4, latent)
        self.log_var = nn.Linear(128 * 4 * 4, latent)

    def forward(self, x):
        h = self.layers(x).reshape(x.shape[0], -1)
        return self.mu(h), self.log_var(h)


class Decoder(nn.Module):
    def __init__(self, latent):
        super().__init__()
        self.dense = nn.Linear(latent, 128 * 4 * 4)
        self.layers = nn.Sequential(
            nn.ConvTranspose2d(128, 128, 3, 2, padding=1),                      # 4 -> 7
            ResBlock(128, 32), ResBlock(128, 32), nn.ReLU(),
            nn.ConvTranspose2d(128, 64, 3, 2, padding=1, output_padding=1),     # 7 -> 14
            nn.ReLU(),
            nn.ConvTranspose2d(64, 1, 3, 2, padding=1, output_padding=1))       # 14 -> 28

    def forward(self, z):
        return self.layers(self.dense(z).reshape(z.shape[0], 128, 4, 4))  # logits


class VAE(nn.Module):
    def __init__(self, latent=16):
        super().__init__()
        self.encoder, self.decoder = Encoder(latent), Decoder(latent)


class _FlatEncoder(nn.Module):
    """pytorch_vae.py's interface: flat rows in, (mu | log sigma^2) in one row out."""
    def __init__(self, encoder):
        super().__init__()
        self.encoder = encoder

    def forward(self, x):
        mu, log_var = self.encoder(x.reshape(x.shape[0], 1, 28, 28))
        return torch.cat((mu, log_var), 1)


class _FlatDecoder(nn.Module):
    def __init__(self, decoder):
        super().__init__()
        self.decoder = decoder

    def forward(self, z):
        return self.decoder(z).reshape(z.shape[0], -1)


def flat_vae(latent):
    """(encoder, decoder) on flat 784-float rows, for bench/pytorch_vae.py --arch resnet."""
    vae = VAE(latent)
    return _FlatEncoder(vae.encoder), _FlatDecoder(vae.decoder)


def count(m):
    return sum(p.numel() for p in m.parameters())


if __name__ == "__main__":
    latent = int(sys.argv[1]) if len(sys.argv) > 1 else 16
    vae = VAE(latent)
    x = torch.zeros(2, 1, 28, 28)
    mu, _ = vae.encoder(x)
    assert vae.decoder(mu).shape == x.shape
    print(f"latent {latent}: encoder {count(vae.encoder)}, decoder {count(vae.decoder)}, "
          f"total {count(vae)}")
