"""Build script of dexmv_bringup (ament_python): node executables go to lib/dexmv_bringup for `ros2 run`."""

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
    ],
    install_requires=["setuptools"],
    zip_safe=False,
    maintainer="DexMV developers",
    maintainer_email="dexmv-dev@example.com",
    description="Launch files, graph configuration, the dexmv command and demo",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [],
        "dexmv.verbs": [
            "bench = dexmv_bringup.cli.bench",
            "demo = dexmv_bringup.cli.demo",
            "doctor = dexmv_bringup.cli.doctor",
        ],
    },
)
