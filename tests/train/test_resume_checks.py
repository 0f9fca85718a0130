"""Resume checks what it resumes: other data or settings are refused; a re-used folder never resumes a stale run."""

import numpy as np
import pytest
import torch

from layerwise import GreedyLayerwise, PretrainedClassifier, Trainer
from layerwise.exceptions import CheckpointError
from layerwise.objectives import Reconstruction
from layerwise.train import Callback

from ..conftest import boring_autoencoder

SMALL = dict(pretrain_max_iter=1, max_iter=2, batch_size=50, random_state=0)


class StopAt(Callback):
    """Raise KeyboardInterrupt at the start of the ``n``-th fit that uses it (a greedy stage) and epoch ``epoch``."""

    def __init__(self, fit: int, epoch: int = 0):
        self.fit, self.epoch, self.fits = fit, epoch, 0

    def on_fit_start(self, trainer, model):
        self.fits += 1

    def on_epoch_start(self, trainer, model, epoch):
        if (self.fits, epoch) == (self.fit, self.epoch):
            raise KeyboardInterrupt


def test_other_data_is_refused(tmp_path, digits):
    X, y = digits
    PretrainedClassifier((16,), **SMALL).fit(X[:300], y[:300], checkpoint_dir=tmp_path)
    with pytest.raises(CheckpointError, match=r"Cannot resume from .*pretrain.stage_1: its checkpoint was written by a fit with "
                                              r"other data or settings:\n- train\[0\]: shape \(300, 64\) float32 \(sha256 \w+\) in the "
                                              r"checkpoint, shape \(300, 64\) float32 \(sha256 \w+\) now\n[\s\S]*to start over, fit "
                                              r"without resume=True \(which replaces these checkpoints\)"):
        PretrainedClassifier((16,), **SMALL).fit(X[300:600], y[300:600], checkpoint_dir=tmp_path, resume=True)
    # the same data resumes (here: nothing left to train) to the same model
    a = PretrainedClassifier((16,), **SMALL).fit(X[:300], y[:300], checkpoint_dir=tmp_path, resume=True)
    b = PretrainedClassifier((16,), **SMALL).fit(X[:300], y[:300])
    assert np.array_equal(a.predict_proba(X[:50]), b.predict_proba(X[:50]))


@pytest.mark.parametrize("change, line", [
    ({"learning_rate_init": 0.01}, r"trainer\.learning_rate_init: 0\.001 in the checkpoint, 0\.01 now"),
    ({"solver": "sgd"}, r"trainer\.solver: 'adam' in the checkpoint, 'sgd' now"),
    ({"alpha": 1e-4}, r"trainer\.alpha: 0\.0 in the checkpoint, 0\.0001 now"),
])
def test_new_settings_are_refused_not_ignored(tmp_path, digits_small, change, line):
    X = torch.from_numpy(digits_small[0])
    settings = dict(max_iter=2, batch_size=50, random_state=0, checkpoint_dir=tmp_path)
    Trainer(**settings).fit(boring_autoencoder(), Reconstruction("bce"), (X,))
    with pytest.raises(CheckpointError, match=line):
        Trainer(**{**settings, **change}).fit(boring_autoencoder(), Reconstruction("bce"), (X,), resume=True)


def test_a_new_learning_rate_in_an_estimator_is_refused(tmp_path, digits_small):
    X, y = digits_small
    PretrainedClassifier((16,), **SMALL).fit(X, y, checkpoint_dir=tmp_path)
    with pytest.raises(CheckpointError, match=r"trainer\.learning_rate_init: 0\.001 in the checkpoint, 0\.01 now"):
        PretrainedClassifier((16,), **{**SMALL, "learning_rate_init": 0.01}).fit(X, y, checkpoint_dir=tmp_path, resume=True)
    with pytest.raises(CheckpointError, match=r"model\.stack\.layers\.0\.0\.weight: \[16, 64\] in the checkpoint, \[8, 64\] now"):
        PretrainedClassifier((8,), **{**SMALL, "pretrain": None}).fit(X, y, checkpoint_dir=tmp_path, resume=True)


def test_max_iter_may_grow_on_resume(tmp_path, digits_small):
    """``max_iter`` says when to stop: a finished fit resumes to train longer, to the same weights as one long fit."""
    X = torch.from_numpy(digits_small[0])
    settings = dict(batch_size=50, random_state=0, checkpoint_dir=tmp_path)
    torch.manual_seed(0)
    Trainer(max_iter=1, **settings).fit(boring_autoencoder(), Reconstruction("bce"), (X,))
    torch.manual_seed(0)
    longer = boring_autoencoder()
    hist = Trainer(max_iter=2, **settings).fit(longer, Reconstruction("bce"), (X,), resume=True)
    torch.manual_seed(0)
    ref = boring_autoencoder()
    ref_hist = Trainer(max_iter=2, batch_size=50, random_state=0).fit(ref, Reconstruction("bce"), (X,))
    assert [h["loss"] for h in hist] == [h["loss"] for h in ref_hist]
    assert all(torch.equal(a, b) for a, b in zip(ref.state_dict().values(), longer.state_dict().values()))


def test_a_reused_folder_never_resumes_the_stale_stage_of_another_seed(tmp_path, digits_small):
    """Run A (seed 0) finishes both stages; run B (seed 1) starts in the same folder, is interrupted in
    stage 1 and resumed: stage 2 must be trained for B, not restored from A."""
    X = torch.from_numpy(digits_small[0])

    def greedy(seed, callbacks=()):
        return GreedyLayerwise((16, 8), checkpoint_dir=tmp_path / "run", trainer=Trainer(
            max_iter=2, batch_size=50, random_state=seed, callbacks=list(callbacks)))

    greedy(0).fit(X)
    with pytest.raises(KeyboardInterrupt):
        greedy(1, [StopAt(fit=1, epoch=1)]).fit(X)
    resumed = greedy(1).fit(X, resume=True)
    ref = GreedyLayerwise((16, 8), trainer=Trainer(max_iter=2, batch_size=50, random_state=1)).fit(X)
    a, b = ref.state_dict(), resumed.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_fit_that_starts_over_removes_the_old_finetuning_checkpoint(tmp_path, digits_small):
    X, y = digits_small
    PretrainedClassifier((16,), **SMALL).fit(X, y, checkpoint_dir=tmp_path)
    assert (tmp_path / "finetune" / "checkpoint.json").is_file()

    class StopInPretraining(Callback):
        def on_epoch_start(self, trainer, model, epoch):
            raise KeyboardInterrupt

    clf = PretrainedClassifier((16,), **{**SMALL, "random_state": 1})
    real = clf._trainer
    clf._trainer = lambda *a, **k: real(*a, **{**k, "callbacks": [StopInPretraining()]}) if a[2] == "pretrain" else real(*a, **k)
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y, checkpoint_dir=tmp_path)
    assert not (tmp_path / "finetune" / "checkpoint.json").exists() and not (tmp_path / "pretrain" / "stage_1" / "checkpoint.json").exists()
