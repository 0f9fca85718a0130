"""Model files: :func:`~layerwise.persistence.io.save` and :func:`~layerwise.persistence.io.load` (what goes in
them), the folder format itself (:mod:`~layerwise.persistence.folder`: safetensors weights, JSON config and
provenance, never a pickle) and a module's architecture as data (:mod:`~layerwise.persistence.architecture`).

Below the pipeline and the estimators: nothing here imports them (estimators register themselves).
"""
