"""Startup hook of lavis-dynrefer: ``python -m lavis.train`` and ``python -m lavis.evaluate``.

LAVIS documents its commands as ``python -m lavis.train`` / ``lavis.evaluate``, but the pip
package of LAVIS has no such modules (they live at its git repository's root). The file
``lavis_dynrefer_aliases.pth``, installed next to this module, imports it when Python starts
(as setuptools and coverage install theirs); it adds one finder at the end of ``sys.meta_path``
that answers only for these two names, with the code of ``lavis_dynrefer.train`` /
``lavis_dynrefer.evaluate``. A real ``lavis.train`` found on the path wins. Nothing else is
imported here: Python's startup stays as fast as without it.
"""

from __future__ import annotations

import sys

ALIASES = {"lavis.train": "train.py", "lavis.evaluate": "evaluate.py"}


class LavisCommandFinder:
    """A ``sys.meta_path`` finder of ``lavis.train`` / ``lavis.evaluate``: the plugin's modules
    of the same role."""

    def find_spec(self, fullname, path=None, target=None):
        file_name = ALIASES.get(fullname)
        if file_name is None:
            return None
        import importlib.machinery
        import importlib.util
        import os

        # Every finder, setuptools' editable-install finder included; nothing is imported.
        package = importlib.util.find_spec("lavis_dynrefer")
        if package is None or not package.submodule_search_locations:
            return None
        for folder in package.submodule_search_locations:
            origin = os.path.join(folder, file_name)
            if os.path.isfile(origin):
                loader = importlib.machinery.SourceFileLoader(fullname, origin)
                return importlib.machinery.ModuleSpec(fullname, loader, origin=origin)
        return None


def install() -> None:
    """Append the finder once (after the regular finders, so a real module wins)."""
    if not any(isinstance(f, LavisCommandFinder) for f in sys.meta_path):
        sys.meta_path.append(LavisCommandFinder())


install()
