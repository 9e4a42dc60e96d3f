"""Measurements of the plugin's speed and cost: ``python -m lavis_dynrefer.benchmark SUITE``.

Suites (one module each; every suite prints a table and ``--json OUT`` writes the same as JSON):

- ``processor`` (``processor_suite``): regions/s of the view processor against the release-style
  loop (``release_loop``) at several regions per image, and whether they choose the same views.
- ``dedup`` (``dedup_suite``): the fraction of view images that are distinct, i.e. ViT passes
  left after ``models.view_dedup``.
- ``inference`` (``inference_suite``): regions/s, peak RSS and a per-stage time breakdown of
  ``predict_answers`` (``stage_timer``).
- ``train`` (``train_suite``): training regions/s on CPU and the share of time outside the model.
- ``cost`` (``cost``, ``cost_report``): parameters, FLOPs and memory per stage.
- ``startup`` (``startup_suite``): wall time of ``import lavis_dynrefer`` and of the demo.

Timings are wall clock on whatever machine runs them: compare ratios measured in one run.
"""
