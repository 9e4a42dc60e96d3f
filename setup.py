"""Install lavis-dynrefer: a LAVIS plugin for DynRefer region understanding.

Pins follow ``shared/guide/lavis-notes.md``: LAVIS 1.0.2 pins ``opencv-python-headless==4.5.5.64``,
which only loads with numpy 1.x; transformers must stay inside LAVIS's window (< 4.27); torch and
torchvision are capped at the newest pair tested here (2.14.1 / 0.29.1).
"""

from setuptools import find_packages, setup

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

TEST_REQUIRES = ["pytest>=7", "hypothesis", "scipy"]

setup(
    name="lavis-dynrefer",
    version="0.1.0",
    description="DynRefer (arXiv 2405.16071) region-level vision-language models as a LAVIS plugin",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["lavis_dynrefer", "lavis_dynrefer.*"]),
    package_data={"lavis_dynrefer": ["configs/**/*.yaml", "configs/**/*.txt",
                                     "configs/**/*.json", "assets/*", "assets/**/*"]},
    include_package_data=True,
    install_requires=INSTALL_REQUIRES,
    extras_require={"test": TEST_REQUIRES},
    license="BSD-3-Clause",
)
