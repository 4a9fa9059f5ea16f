"""graph-builder: build graphs from scripts and analyse them with networkx.

The graph travels through the script as a plain table (``{graph_type, nodes, edges}``, the
shape rs-llmspell's tool uses), so it can be stored in State or passed between workflow steps;
networkx does the analysis (components, cycles, centrality, shortest paths, topological order).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field

from llmspell.core.errors import ToolError
from llmspell.tools.base import BuiltinTool, ToolContext, ToolParams


def _empty(kind: str) -> dict[str, Any]:
    return {"graph_type": kind, "nodes": [], "edges": []}


def _normalise(g: Any, kind: str) -> dict[str, Any]:
    if g is None:
        return _empty(kind)
    if isinstance(g, str):
        try:
            g = json.loads(g)
        except ValueError as e:
            raise ToolError(f"graph-builder: parameter 'graph': not valid JSON: {e}") from e
    if not isinstance(g, dict):
        raise ToolError("graph-builder: parameter 'graph': expected {graph_type, nodes, edges}")
    nodes = []
    for n in g.get("nodes") or []:
        nodes.append(n if isinstance(n, dict) else {"id": str(n)})
    edges = []
    for raw in g.get("edges") or g.get("links") or []:
        edge: dict[str, Any] = {"from": raw[0], "to": raw[1]} if isinstance(raw, (list, tuple)) and len(raw) >= 2 \
            else raw
        src = edge.get("from", edge.get("source"))
        dst = edge.get("to", edge.get("target"))
        if src is None or dst is None:
            raise ToolError("graph-builder: every edge needs 'from' and 'to'")
        rest = {k: v for k, v in edge.items() if k not in ("source", "target")}
        edges.append({**rest, "from": str(src), "to": str(dst)})
    return {"graph_type": g.get("graph_type", kind), "nodes": nodes, "edges": edges}


def to_networkx(g: dict[str, Any]) -> Any:
    import networkx as nx

    G = nx.DiGraph() if g["graph_type"] == "directed" else nx.Graph()
    for n in g["nodes"]:
        G.add_node(str(n["id"]), **{k: v for k, v in n.items() if k != "id"})
    for e in g["edges"]:
        G.add_edge(e["from"], e["to"], **{k: v for k, v in e.items() if k not in ("from", "to")})
    return G


class GraphBuilderTool(BuiltinTool):
    name = "graph-builder"
    description = "Build directed or undirected graphs and analyse them (components, cycles, paths, centrality)"
    category = "data"
    tags = ("graph", "network", "networkx")

    class Params(ToolParams):
        operation: Literal["create_graph", "add_node", "add_edge", "analyze", "export_json", "import_json",
                           "shortest_path"] = "create_graph"
        input: Any = Field(None, description="create_graph: {nodes, edges}; add_node: node data; import_json: JSON")
        graph_type: Literal["directed", "undirected"] = "directed"
        graph: Any = Field(None, description="The graph table returned by an earlier call")
        node_id: str | None = None
        label: str | None = None
        from_: str | None = Field(None, alias="from")
        to: str | None = None
        weight: float | None = None

    async def run(self, params: Params, ctx: ToolContext) -> dict[str, Any]:
        op = params.operation
        if op == "create_graph":
            g = _normalise(params.input, params.graph_type) if params.input else _empty(params.graph_type)
            g["graph_type"] = params.graph_type
            self._check_edges(g)
            return {"graph": g, "node_count": len(g["nodes"]), "edge_count": len(g["edges"])}
        if op == "import_json":
            g = _normalise(params.input, params.graph_type)
            self._check_edges(g)
            return {"graph": g, "node_count": len(g["nodes"]), "edge_count": len(g["edges"])}
        g = _normalise(params.graph, params.graph_type)
        if op == "add_node":
            if not params.node_id:
                raise ToolError("graph-builder: parameter 'node_id' is required for add_node")
            if any(str(n["id"]) == params.node_id for n in g["nodes"]):
                raise ToolError(f"graph-builder: node {params.node_id!r} already exists")
            node: dict[str, Any] = {"id": params.node_id}
            if params.label:
                node["label"] = params.label
            if isinstance(params.input, dict):
                node["data"] = params.input
            g["nodes"].append(node)
            return {"graph": g, "node_count": len(g["nodes"]), "edge_count": len(g["edges"])}
        if op == "add_edge":
            if not params.from_ or not params.to:
                raise ToolError("graph-builder: parameters 'from' and 'to' are required for add_edge")
            edge: dict[str, Any] = {"from": params.from_, "to": params.to}
            if params.weight is not None:
                edge["weight"] = params.weight
            if params.label:
                edge["label"] = params.label
            g["edges"].append(edge)
            self._check_edges(g)
            return {"graph": g, "node_count": len(g["nodes"]), "edge_count": len(g["edges"])}
        if op == "export_json":
            return {"json": json.dumps(g), "graph": g}
        import networkx as nx

        G = to_networkx(g)
        if op == "shortest_path":
            if not params.from_ or not params.to:
                raise ToolError("graph-builder: parameters 'from' and 'to' are required for shortest_path")
            try:
                path = nx.shortest_path(G, params.from_, params.to, weight="weight")
                length = nx.shortest_path_length(G, params.from_, params.to, weight="weight")
            except nx.NodeNotFound as e:
                raise ToolError(f"graph-builder: {e}") from e
            except nx.NetworkXNoPath:
                return {"path": None, "length": None, "reachable": False}
            return {"path": path, "length": length, "reachable": True}
        directed = G.is_directed()
        comps = list(nx.weakly_connected_components(G) if directed else nx.connected_components(G)) if len(G) else []
        is_dag = directed and nx.is_directed_acyclic_graph(G)
        import itertools

        cycles = list(itertools.islice(nx.simple_cycles(G), 20)) if directed else \
            [list(c) for c in nx.cycle_basis(G)][:20]
        centrality = nx.degree_centrality(G) if len(G) > 1 else {n: 0.0 for n in G}
        return {
            "node_count": G.number_of_nodes(), "edge_count": G.number_of_edges(), "directed": directed,
            "density": nx.density(G) if len(G) > 1 else 0.0,
            "connected_components": len(comps), "components": [sorted(c) for c in comps],
            "has_cycles": bool(cycles), "cycles": cycles, "is_dag": is_dag,
            "topological_order": list(nx.topological_sort(G)) if is_dag else None,
            "degrees": dict(G.degree()), "degree_centrality": centrality,
            "isolated_nodes": sorted(nx.isolates(G)),
        }

    @staticmethod
    def _check_edges(g: dict[str, Any]) -> None:
        """Edges may name nodes not yet declared: add them, as networkx would."""
        known = {str(n["id"]) for n in g["nodes"]}
        for e in g["edges"]:
            for end in (e["from"], e["to"]):
                if end not in known:
                    g["nodes"].append({"id": end})
                    known.add(end)


TOOLS = [GraphBuilderTool]
