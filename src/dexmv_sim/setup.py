"""Build script of dexmv_sim (ament_python): node executables go to lib/dexmv_sim for `ros2 run`."""

from setuptools import find_packages, setup

PACKAGE = "dexmv_sim"

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
    description="Adroit hand manipulation tasks in MuJoCo, Gymnasium envs and sim node",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "sim_node = dexmv_sim.nodes.sim_node:main",
        ],
        "dexmv.verbs": [
            "sim = dexmv_sim.cli.sim",
        ],
        "dexmv.bench": [
            "sim = dexmv_sim.cli.bench_sim",
        ],
    },
)
