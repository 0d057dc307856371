"""Build script of dexmv_bringup (ament_python): node executables go to lib/dexmv_bringup for `ros2 run`."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "dexmv_bringup"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        # The `dexmv` command goes to <prefix>/bin, which sourcing the workspace puts on PATH.
        ("bin", ["scripts/dexmv"]),
        (f"share/{PACKAGE}/launch", sorted(glob("launch/*.launch.py"))),
        (f"share/{PACKAGE}/config", sorted(glob("config/*.yaml"))),
        (f"share/{PACKAGE}/rviz", sorted(glob("rviz/*.rviz"))),
    ],
    install_requires=["setuptools"],
    zip_safe=False,
    maintainer="DexMV developers",
    maintainer_email="dexmv-dev@example.com",
    description="Launch files, graph configuration, the dexmv command and demo",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "bag_player = dexmv_bringup.nodes.bag_player:main",
        ],
        "dexmv.verbs": [
            "bench = dexmv_bringup.cli.bench",
            "demo = dexmv_bringup.cli.demo",
            "doctor = dexmv_bringup.cli.doctor",
            "launch = dexmv_bringup.cli.launch",
            "view = dexmv_bringup.cli.view",
        ],
    },
)
