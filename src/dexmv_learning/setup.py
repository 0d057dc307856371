"""Build script of dexmv_learning (ament_python): node executables go to lib/dexmv_learning for `ros2 run`."""

from setuptools import find_packages, setup

PACKAGE = "dexmv_learning"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    package_data={PACKAGE: ["config/*.yaml"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=False,
    maintainer="DexMV developers",
    maintainer_email="dexmv-dev@example.com",
    description="Demonstrations and imitation learning on a TRPO backbone, policy node",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "recorder_node = dexmv_learning.nodes.recorder_node:main",
            "policy_node = dexmv_learning.nodes.policy_node:main",
        ],
        "dexmv.verbs": [
            "bag = dexmv_learning.cli.bag",
            "demos = dexmv_learning.cli.demos",
            "train = dexmv_learning.cli.train",
            "eval = dexmv_learning.cli.eval",
            "table1 = dexmv_learning.cli.table1",
        ],
        "dexmv.bench": [
            "demos = dexmv_learning.cli.bench_demos",
            "learning = dexmv_learning.cli.bench_learning",
            "ray = dexmv_learning.cli.bench_ray",
        ],
    },
)
