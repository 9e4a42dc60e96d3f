"""Turning an image and its region boxes into DynRefer's multi-view input.

- ``image_io``: any PIL image or file -> an upright RGB image.
- ``view_geometry``: pure box arithmetic (view boxes b_t, the box in a view's frame).
- ``phash``: perceptual hashes of view crops (the release's and ``imagehash``'s).
- ``phash_linear``: the release's pHash as one linear map per box, same bits, ~6x faster.
- ``view_selection``: which extra views a region gets (random for training, pHash novelty at eval).
- ``multi_view``: the registered LAVIS processor that puts them together.
"""
