"""Write a PyTorch VAE/AE (bench/pytorch_vae.py's Sequential encoder and
decoder) as a vaekit model file (formats/model.md), so that vaekit's own
kl-eval measures both frameworks' models the same way (ELBO, IWAE log p(x))."""
import struct
import zlib

MAGIC = b"\x93VKMD\r\n\x1a"
KIND = {"ae": 1, "vae": 2}
RELU, BERNOULLI, ADAM = 1, 1, 1


def _linears(seq, nn):
	return [m for m in seq if isinstance(m, nn.Linear)]


def save_vaekit(path, torch, nn, enc, dec, shape, hidden, latent, model, desc="", epochs=0,
		records=0, seed=0, batch=128, lr=1e-3):
	"""shape: the input's dims, e.g. (28, 28). Layers are written W (in, out)
	row-major then the bias, encoder then decoder, as vaekit lays them out."""
	head = bytearray(256)
	head[0:8] = MAGIC
	struct.pack_into("<HHI", head, 8, 1, 0, 256)
	dims = list(shape) + [0] * (4 - len(shape))
	struct.pack_into("<II4I", head, 16, KIND[model], len(shape), *dims)
	hid = list(hidden) + [0] * (8 - len(hidden))
	struct.pack_into("<III8I", head, 40, latent, 0, len(hidden), *hid)
	struct.pack_into("<IIf", head, 84, RELU, BERNOULLI, 0.1)
	struct.pack_into("<QQQIffI", head, 96, epochs, records, seed, batch, lr, 1.0, ADAM)
	nan = float("nan")
	struct.pack_into("<4f", head, 136, nan, nan, nan, nan)
	text = desc.encode()[:4096]
	params = []
	with torch.no_grad():
		for lin in _linears(enc, nn) + _linears(dec, nn):
			params.append(lin.weight.detach().t().contiguous().numpy().astype("<f4").tobytes())
			params.append(lin.bias.detach().numpy().astype("<f4").tobytes())
	body = b"".join(params)
	n = len(body) // 4
	struct.pack_into("<IIQ", head, 152, len(text), 0, n)
	data = bytes(head) + text + body
	data += struct.pack("<I", zlib.crc32(data) & 0xFFFFFFFF)
	tmp = path + ".tmp"
	with open(tmp, "wb") as f:
		f.write(data)
	import os
	os.replace(tmp, path)
