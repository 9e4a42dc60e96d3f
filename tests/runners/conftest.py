"""Shared fixtures of the runner tests."""

import pytest
from lavis.common.registry import registry


@pytest.fixture(scope="module", autouse=True)
def _restore_registry_paths():
    """Runners register result_dir/output_dir in tmp dirs; give other test modules theirs back."""
    paths = registry.mapping["paths"]
    saved = {k: paths[k] for k in ("result_dir", "output_dir") if k in paths}
    yield
    for key in ("result_dir", "output_dir"):
        paths.pop(key, None)
    paths.update(saved)
