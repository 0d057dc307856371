"""Build script of dexmv_perception (ament_python): node executables go to lib/dexmv_perception for `ros2 run`."""

from setuptools import find_packages, setup

PACKAGE = "dexmv_perception"

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
    description="Hand keypoints, MANO fitting and object poses from RGB-D",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "perception_node = dexmv_perception.nodes.perception_node:main",
        ],
        "dexmv.verbs": [
            "perceive = dexmv_perception.cli.perceive",
        ],
        "dexmv.bench": [
            "perception = dexmv_perception.cli.bench_perception",
        ],
    },
)
