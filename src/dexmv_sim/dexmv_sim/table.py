"""The table every task happens on: its top is the plane z = 0 of the `world` frame (docs/architecture.md).

Collision uses a plane at z = 0 rather than a box: plane contacts with boxes, capsules and
cylinders are analytic in MuJoCo (cheap and stable multi-point contacts), while box-box and
box-cylinder go through the general convex solver. The plane is infinite for collision, so an
object pushed past the table edge stays at table height; tasks keep objects well inside the
1.2 m x 1.2 m top. The visible slab, legs and floor are visual only.
"""

from __future__ import annotations

from collections.abc import Sequence

import mujoco

TABLE_HALF_SIZE = (0.6, 0.6)  # m, DexMV's 1.2 m x 1.2 m table
TABLE_HEIGHT = 0.75  # m, top above the floor (visual only)
TABLE_THICKNESS = 0.03
TABLE_RGBA = (0.78, 0.66, 0.50, 1.0)  # light wood
LEG_RGBA = (0.35, 0.30, 0.26, 1.0)
FLOOR_RGBA = (0.42, 0.44, 0.47, 1.0)
# The table top's contact: sliding friction 1 (wood against cardboard/plastic is 0.4-0.7; 1 is
# DexMV's value and keeps objects from skating when pushed), condim 3, default soft contact.
TABLE_FRICTION = (1.0, 0.005, 0.0001)
# A 5 ms contact time constant (2.5 physics steps; MuJoCo wants at least 2), four times stiffer than
# MuJoCo's default 20 ms: with the default, fingertips and objects pushed by a flailing hand sank up
# to 8.6 mm into the top (10 random-action episodes, relocate-mustard_bottle; the issue saw 20 mm);
# with 5 ms at most 1.2 mm in the same episodes. Re-measured (test_table_contacts, which pins the
# bounds): random-policy episodes sink the mustard bottle 12 mm with the default, 2.5 mm with 5 ms;
# a hand pressing ~70-90 N on the top 2.4 mm with the default, none with 5 ms.
TABLE_SOLREF = (0.005, 1.0)
TABLE_PRIORITY = 2  # above objects and the hand (0): every table contact uses the table's parameters


def add_table(spec: mujoco.MjSpec, *, half_size: Sequence[float] = TABLE_HALF_SIZE, name: str = "table",
              floor: bool = True) -> mujoco.MjsBody:
    """Add a static table whose top surface is z = 0 of the world frame; returns its body."""
    hx, hy = float(half_size[0]), float(half_size[1])
    body = spec.worldbody.add_body(name=name)
    top = body.add_geom(name=f"{name}/top", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[hx, hy, 0.05],
                        rgba=list(TABLE_RGBA), group=3)
    # priority: contacts with the table use the table's condim 3 (objects ask for 4, for grasps):
    # torsional friction against the table buys nothing and costs two constraint rows per contact
    top.contype, top.conaffinity, top.condim, top.priority = 1, 1, 3, TABLE_PRIORITY
    top.friction = list(TABLE_FRICTION)
    top.solref = list(TABLE_SOLREF)
    visuals = [
        (mujoco.mjtGeom.mjGEOM_BOX, [hx, hy, TABLE_THICKNESS / 2], [0, 0, -TABLE_THICKNESS / 2], TABLE_RGBA),
    ]
    leg_half = (TABLE_HEIGHT - TABLE_THICKNESS) / 2
    for sx in (-1, 1):
        for sy in (-1, 1):
            visuals.append((mujoco.mjtGeom.mjGEOM_BOX, [0.025, 0.025, leg_half],
                            [sx * (hx - 0.05), sy * (hy - 0.05), -TABLE_THICKNESS - leg_half], LEG_RGBA))
    for k, (kind, size, pos, rgba) in enumerate(visuals):
        geom = body.add_geom(name=f"{name}/visual_{k}", type=kind, size=size, pos=pos, rgba=list(rgba), group=2)
        geom.contype, geom.conaffinity, geom.density = 0, 0, 0.0
    if floor:
        geom = body.add_geom(name=f"{name}/floor", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[3, 3, 0.1],
                             pos=[0, 0, -TABLE_HEIGHT], rgba=list(FLOOR_RGBA), group=2)
        geom.contype, geom.conaffinity = 0, 0
    return body
