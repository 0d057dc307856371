"""Build script of dexmv_runtime (ament_python): the one node start-up/shutdown that every node uses."""

from setuptools import find_packages, setup

PACKAGE = "dexmv_runtime"

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
    description="Shared rclpy node runtime: init, executor, clean Ctrl-C and shutdown",
    license="Apache-2.0",
)
