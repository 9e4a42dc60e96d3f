"""The shapes world: a procedurally generated region dataset for training a small DynRefer.

No pretrained weights are available offline, so the project trains its own small model on
synthetic scenes: 3-7 shapes (8 classes, 8 colours, 3 sizes, 4 fills) on plain, gradient or
noise backgrounds, possibly overlapping, each with a referring-expression caption that often
needs the context outside its box (a neighbour, its place in the image, the other members of
its group), as DynRefer's context views assume.

Output of ``python -m lavis_dynrefer.shapes --out DIR`` (one folder, same seed = same bytes):

- ``{train,val,test}_regions.json``: region annotation files (data-and-metrics.md section 1)
  that serve all four tasks at once: ``caption`` for region captioning and dense captioning,
  ``category_id`` (the shape class) for region recognition, ``att_vec`` with OVAD-style
  ``attributes`` for attribute detection; ``extra_info`` carries the caption's ``phrases`` and
  the object's facts. ``dataset.image_root`` is ``"images"``, relative to the folder of the json
  files (absolute with ``--absolute-image-root``).
- ``images/{split}/NNNNNN.png``; ``vocab.txt`` (every caption word); ``tags.txt`` (the tags);
  ``README.txt`` (this layout, written with the data).

Pipeline per image: ``scene.sample_scene`` -> ``render.render_scene`` -> ``facts.build_facts``
-> ``captions.choose_captions`` and ``attributes.attribute_labels``; ``writer`` runs it per
split and writes the files.
"""

from lavis_dynrefer.shapes.writer import write_dataset

__all__ = ["write_dataset"]
