"""Build script of dexmv_retarget (ament_python): node executables go to lib/dexmv_retarget for `ros2 run`."""

from setuptools import find_packages, setup

PACKAGE = "dexmv_retarget"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=False,
    maintainer="DexMV developers",
    maintainer_email="dexmv-dev@example.com",
    description="Human-to-Adroit hand motion retargeting",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "retarget_node = dexmv_retarget.nodes.retarget_node:main",
        ],
        "dexmv.verbs": [
            "retarget = dexmv_retarget.cli.retarget",
        ],
        "dexmv.bench": [
            "retarget = dexmv_retarget.cli.bench_retarget",
        ],
    },
)
