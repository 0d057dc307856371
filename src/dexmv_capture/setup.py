"""Build script of dexmv_capture (ament_python): node executables go to lib/dexmv_capture for `ros2 run`."""

from setuptools import find_packages, setup

PACKAGE = "dexmv_capture"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/config", ["config/default_extrinsics.yaml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=False,
    maintainer="DexMV developers",
    maintainer_email="dexmv-dev@example.com",
    description="RealSense streams as ROS 2 topics, calibration, synthetic D435 recordings",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "extrinsics_publisher = dexmv_capture.nodes.extrinsics_publisher:main",
            "camera_node = dexmv_capture.nodes.camera_node:main",
        ],
        "dexmv.verbs": [
            "synth = dexmv_capture.cli.synth",
            "recording = dexmv_capture.cli.recording",
            "calibrate = dexmv_capture.cli.calibrate",
        ],
        "dexmv.bench": [
            "capture = dexmv_capture.cli.bench_capture",
        ],
    },
)
