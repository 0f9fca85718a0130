"""layerwise vs pythae's AE and VAE trainers, one epoch each, alternated in one process.

pythae is not a dependency: install it in a separate environment beside the same torch, then run
this script from there with layerwise's source on the path (pythae 0.1.2 with torch 2.13 CPU):

    python3 -m venv /tmp/pythae-env
    /tmp/pythae-env/bin/pip install -c constraints.txt pythae safetensors tqdm
    PYTHONPATH=src /tmp/pythae-env/bin/python benchmarks/bench_pythae.py [--rounds 3]

Same model (784-1000-500-250-30 mirrored, ReLU; VAE 784-400-20), data (60,000 MNIST images),
batch 256, Adam lr 1e-3; both with their defaults otherwise.
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
from pathlib import Path

import torch

import layerwise  # noqa: F401  (flushes denormals: the process setting applies to both sides)
from layerwise import ELBO, Trainer, dense_vae
from layerwise.objectives import Reconstruction
from layerwise.pipeline.greedy import random_stack

sys.path.insert(0, str(Path(__file__).parent))
from _common import alternate, mnist_train, report  # noqa: E402


def pythae_runs(X: torch.Tensor, out: str):
    from pythae.models import AE, VAE, AEConfig, VAEConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder
    from pythae.trainers import BaseTrainer, BaseTrainerConfig

    deep = random_stack(784, (1000, 500, 250, 30), "relu").unroll()
    vae_lw = dense_vae(784, (400,), 20, "relu", "logistic")

    class Enc(BaseEncoder):
        def __init__(self, module, logvar=None):
            super().__init__()
            self.module, self.logvar = module, logvar

        def forward(self, x):
            if self.logvar is None:
                return ModelOutput(embedding=self.module(x))
            h = self.module[0](x)
            return ModelOutput(embedding=self.module[1](h), log_covariance=self.logvar(h))

    class Dec(BaseDecoder):
        def __init__(self, module, sigmoid=False):
            super().__init__()
            self.module, self.sigmoid = module, sigmoid

        def forward(self, z):
            y = self.module(z)
            return ModelOutput(reconstruction=torch.sigmoid(y) if self.sigmoid else y)

    ae = AE(AEConfig(input_dim=(784,), latent_dim=30), encoder=Enc(copy.deepcopy(deep.encoder)), decoder=Dec(copy.deepcopy(deep.decoder)))
    v = copy.deepcopy(vae_lw)
    vae = VAE(VAEConfig(input_dim=(784,), latent_dim=20, reconstruction_loss="bce"),
              encoder=Enc(v.encoder, v.logvar_head), decoder=Dec(v.decoder, sigmoid=True))
    cfg = BaseTrainerConfig(output_dir=out, num_epochs=1, learning_rate=1e-3, per_device_train_batch_size=256,
                            per_device_eval_batch_size=256, steps_saving=None, no_cuda=True)

    from pythae.data.datasets import BaseDataset

    data = BaseDataset(X, torch.zeros(len(X)))  # what pythae's TrainingPipeline builds from an array

    def run(model):
        BaseTrainer(model=model, train_dataset=data, training_config=cfg).train()

    lw_deep, lw_vae = copy.deepcopy(deep), copy.deepcopy(vae_lw)
    return (
        {"layerwise deep AE": lambda: Trainer(max_iter=1, batch_size=256, device="cpu").fit(lw_deep, Reconstruction("mse"), (X,)),
         "pythae AE (BaseTrainer)": lambda: run(ae)},
        {"layerwise VAE": lambda: Trainer(max_iter=1, batch_size=256, device="cpu").fit(lw_vae, ELBO("bce"), (X,)),
         "pythae VAE (BaseTrainer)": lambda: run(vae)},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=60000)
    args = parser.parse_args()
    X = mnist_train()[: args.samples].contiguous()
    with tempfile.TemporaryDirectory() as out:
        ae_runs, vae_runs = pythae_runs(X, out)
        report("pythae_ae", alternate(ae_runs, args.rounds, "pythae_ae"), len(X), "layerwise deep AE")
        report("pythae_vae", alternate(vae_runs, args.rounds, "pythae_vae"), len(X), "layerwise VAE")


if __name__ == "__main__":
    main()
