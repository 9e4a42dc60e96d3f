"""Install lavis-dynrefer: a LAVIS plugin for DynRefer region understanding.

Pins follow ``shared/guide/lavis-notes.md``: LAVIS 1.0.2 pins ``opencv-python-headless==4.5.5.64``,
which only loads with numpy 1.x; transformers must stay inside LAVIS's window (< 4.27); torch and
torchvision are capped at the newest pair tested here (2.14.1 / 0.29.1).
"""

from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py
from setuptools.command.editable_wheel import editable_wheel

# Imported at Python's start-up: makes `python -m lavis.train` / `lavis.evaluate` run the plugin's
# commands (see _lavis_dynrefer_aliases.py). It must sit at the root of site-packages.
STARTUP_PTH = "lavis_dynrefer_aliases.pth"


class BuildPyWithPth(build_py):
    """build_py that also puts the start-up .pth at the root of the built tree, for wheels and
    (PEP 660) editable installs alike."""

    def run(self):
        super().run()
        self.copy_file(str(Path(__file__).parent / STARTUP_PTH),
                       str(Path(self.build_lib) / STARTUP_PTH), preserve_mode=False)

    def get_outputs(self, include_bytecode=True):
        return [*super().get_outputs(include_bytecode),
                str(Path(self.build_lib) / STARTUP_PTH)]


class EditableWheelWithPth(editable_wheel):
    """PEP 660 editable wheels hold only setuptools' own path hook; put the start-up .pth at the
    wheel's root too (where setuptools writes its namespace-package .pth files)."""

    def _install_namespaces(self, installation_dir, pth_prefix):
        super()._install_namespaces(installation_dir, pth_prefix)
        self.copy_file(str(Path(__file__).parent / STARTUP_PTH),
                       str(Path(installation_dir) / STARTUP_PTH), preserve_mode=False)

INSTALL_REQUIRES = [
    "salesforce-lavis==1.0.2",
    "torch>=2.1,<=2.14.1",
    "torchvision>=0.16,<=0.29.1",
    "transformers>=4.26.1,<4.27",
    "numpy<2",
    "pandas<3",
    "timm",
    "imagehash>=4.3",
    "pycocoevalcap",
    "pycocotools",
    "pyyaml",
    "omegaconf",
    "pillow",
    "tqdm",
    "safetensors",
    # Noun/adjective phrases of captions (tag targets, control words): TextBlob's tagger ships
    # its word lists in the wheel, so it works offline (NLTK/spaCy models would need downloads).
    "textblob>=0.20",
]

# selenium drives the web page in the `browser` test (Chromium itself comes from Debian's apt).
TEST_REQUIRES = ["pytest>=7", "hypothesis", "scipy", "selenium>=4"]

setup(
    name="lavis-dynrefer",
    version="0.1.0",
    description="DynRefer (arXiv 2405.16071) region-level vision-language models as a LAVIS plugin",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["lavis_dynrefer", "lavis_dynrefer.*"]),
    py_modules=["_lavis_dynrefer_aliases"],
    cmdclass={"build_py": BuildPyWithPth, "editable_wheel": EditableWheelWithPth},
    package_data={"lavis_dynrefer": ["configs/**/*.yaml", "configs/**/*.txt",
                                     "configs/**/*.json", "assets/*", "assets/**/*"]},
    include_package_data=True,
    install_requires=INSTALL_REQUIRES,
    extras_require={"test": TEST_REQUIRES},
    license="BSD-3-Clause",
)
