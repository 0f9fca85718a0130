"""A linear autoencoder trained with squared error learns the principal subspace.

Baldi & Hornik (1989), "Neural networks and principal component analysis":
every minimum of the squared reconstruction error of a linear ``n -> k -> n``
network projects onto the span of the top ``k`` principal components, though
the code axes need not be the components themselves. So we compare subspaces
(principal angles), not vectors.
"""

import numpy as np
import torch
from scipy.linalg import subspace_angles
from sklearn.decomposition import PCA

from layerwise.nn import dense_autoencoder
from layerwise.objectives import Reconstruction
from layerwise.train import Trainer

K = 8


def _linear_ae(seed=0):
    torch.manual_seed(seed)
    return dense_autoencoder(64, K, activation="identity", output="identity")


def test_linear_autoencoder_spans_the_pca_subspace_on_digits(digits):
    X = digits[0]
    pca = PCA(K).fit(X)
    # PCA centres the data; so do we, so the biases need not learn the mean
    # (same optimum, faster convergence along the principal directions).
    Xc = X - X.mean(axis=0)
    ae = _linear_ae()
    # Full-batch Adam: deterministic gradients, so the subspace converges rather than jitters.
    trainer = Trainer(max_iter=300, batch_size=len(X), learning_rate_init=3e-2, random_state=0, device="cpu")
    trainer.fit(ae, Reconstruction("mse"), (torch.from_numpy(Xc),))
    decoder = ae.decoder[0].weight.detach().numpy()  # (64, K): the columns span the AE's subspace
    cosines = np.cos(subspace_angles(decoder, pca.components_.T))
    assert cosines.min() >= 0.99, cosines
    # and its error is PCA's, the optimum (per-sample squared error, batch mean)
    pca_error = ((X - pca.inverse_transform(pca.transform(X))) ** 2).sum(axis=1).mean()
    ae_error = trainer.evaluate(ae, Reconstruction("mse"), (torch.from_numpy(Xc),))["loss"]
    assert 0.999 * pca_error < ae_error < 1.01 * pca_error, (ae_error, pca_error)


def test_an_untrained_linear_autoencoder_does_not(digits):
    """The check above can fail: random weights span a random subspace."""
    X = digits[0]
    ae = _linear_ae()
    cosines = np.cos(subspace_angles(ae.decoder[0].weight.detach().numpy(), PCA(K).fit(X).components_.T))
    assert cosines.min() < 0.5
