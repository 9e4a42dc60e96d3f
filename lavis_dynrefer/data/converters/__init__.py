"""Converters from public raw releases to the region annotation file (data-and-metrics.md s. 1).

One command per source, each ``python -m lavis_dynrefer.data.converters.<name> --help``:

- ``vg``: Visual Genome region descriptions + DenseCap split file -> ``{split}.json``
  (VG v1.0 / v1.2 / VG-COCO through arguments).
- ``refcocog``: RefCOCOg (umd) from the ``refer`` toolkit files (``refer`` sub-command) or from
  MDETR's ``finetune_refcocog_{split}.json`` (``mdetr`` sub-command) -> ``{split}.json``.
- ``ovad``: ``ovad2000.json`` -> one file with ``att_vec`` and ``attributes``.
- ``coco``: ``instances_val2017.json`` -> one file with ``category_id`` and ``categories``.
- ``glamm_vg``: GLaMM's VG region-captioning test set (``test_caption.json``) -> the ``vg_reg``
  test file.

Shared box arithmetic, checks and writing live in ``common``.
"""
