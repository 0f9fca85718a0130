"""The one pipeline: a fit as phases (:mod:`layerwise.pipeline.fit`), shared by the estimators, the command line,
the demo and the benchmarks."""

from .fit import (
    SEED_OFFSETS,
    FineTune,
    Fit,
    FitResult,
    Given,
    Greedy,
    RandomInit,
    SemiSupervised,
    TrainSettings,
    Unroll,
    code_width,
    phase_dir,
    start_over,
)

__all__ = ["SEED_OFFSETS", "TrainSettings", "Greedy", "RandomInit", "Given", "FineTune", "Unroll", "SemiSupervised",
           "Fit", "FitResult", "code_width", "phase_dir", "start_over"]
