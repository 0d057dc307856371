"""Static check of a launch graph: every topic its nodes subscribe to has a publisher among them.

Node interfaces come from config/interfaces.yaml (what each node executable publishes and
subscribes to, per its parameters); graphs from launch_graph.py, the same ones the launch files
start. A node missing from interfaces.yaml is itself a finding, so a new node in a launch file
must be declared before the check passes; the launch tests then hold each declaration against the
running node. Nothing is started here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dexmv_bringup.launch_graph import Graph, NodeSpec

DYNAMIC = "dynamic"


@dataclass
class NodeTopics:
    publishes: set[str] | None  # None: decided at run time (a bag player)
    subscribes: set[str]  # every subscription the running node has (what the launch tests compare)
    optional: set[str] = field(default_factory=set)  # of those, listened to when present, needed by nobody


def load_interfaces(path: str | Path) -> dict[str, dict]:
    import yaml

    data = yaml.safe_load(Path(path).read_text()) or {}
    for key, entry in data.items():
        if "/" not in key or not isinstance(entry, dict):
            raise ValueError(f"{path}: entry {key!r} must be '<package>/<executable>: {{publishes, subscribes}}'")
    return data


def _param_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def _topics(entries: list, params: dict[str, object], optional_only: bool = False) -> set[str]:
    out = set()
    for entry in entries:
        if optional_only and (isinstance(entry, str) or not entry.get("optional")):
            continue
        topic, when = (entry, None) if isinstance(entry, str) else (entry["topic"], entry.get("when"))
        if when:
            name, _, value = when.partition("=")
            if _param_text(params.get(name)).lower() != value.lower():
                continue
        out.add(topic.format(**{k: _param_text(v) for k, v in params.items()}))
    return out


def node_topics(spec: NodeSpec, interfaces: dict[str, dict], params: dict[str, object] | None = None) -> NodeTopics:
    """What this node publishes and subscribes to with its parameters (resolved ones unless given)."""
    key = f"{spec.package}/{spec.executable}"
    if key not in interfaces:
        raise KeyError(key)
    entry = interfaces[key]
    values = {**entry.get("defaults", {}), **(spec.resolved_params() if params is None else params)}
    pubs = entry.get("publishes") or []
    subs = _topics(entry.get("subscribes") or [], values)
    optional = _topics(entry.get("subscribes") or [], values, optional_only=True)
    return NodeTopics(None if pubs == DYNAMIC else _topics(pubs, values), subs, optional)


def check_graph(graph: Graph, interfaces: dict[str, dict]) -> list[str]:
    """Findings, one line each: undeclared nodes and subscribed topics nobody in the graph publishes."""
    problems: list[str] = []
    topics: dict[str, NodeTopics] = {}
    for spec in graph.nodes:
        try:
            topics[spec.name] = node_topics(spec, interfaces)
        except KeyError:
            problems.append(f"{spec.package}/{spec.executable} ({spec.name}) is not declared in config/interfaces.yaml")
    published = set().union(*(t.publishes or set() for t in topics.values()))
    for name, t in topics.items():
        for topic in sorted(t.subscribes - t.optional - published - set(graph.inputs)):
            problems.append(f"{name} subscribes to {topic}, which no node of this graph publishes")
    return problems
