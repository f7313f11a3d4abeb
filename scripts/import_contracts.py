"""An import-linter contract that the project's module graph has no cycle at all.

import-linter's own contracts look at layers, forbidden edges and cycles between siblings of
one package; a circle that runs through several packages (``catalog.services`` →
``runtime.services`` → ``catalog.services``) slips past all of them. This one takes the whole
graph of the named packages, lazy imports inside functions included, and reports every
strongly connected component with one concrete cycle through it.
"""

from __future__ import annotations

import grimp
from importlinter.application import output
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck
from importlinter.domain.helpers import module_expressions_to_modules


class AcyclicContract(Contract):
    """No module of ``containers`` reaches itself through imports (``ignore_imports`` aside)."""

    type_name = "acyclic"

    containers = fields.SetField(subfield=fields.ModuleExpressionField())
    ignore_imports = fields.SetField(subfield=fields.ImportExpressionField(), required=False)

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        for expression in self.ignore_imports or ():
            for imp in graph.find_matching_direct_imports(import_expression=str(expression)):
                graph.remove_import(importer=imp["importer"], imported=imp["imported"])
        modules = self._modules(graph)
        cycles = [_one_cycle(graph, scc) for scc in _components(graph, modules) if len(scc) > 1]
        return ContractCheck(kept=not cycles, warnings=[], metadata={"cycles": cycles})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for cycle in check.metadata["cycles"]:
            output.print_error(" -> ".join(cycle))
            output.new_line()

    def _modules(self, graph: grimp.ImportGraph) -> set[str]:
        roots = module_expressions_to_modules(graph, self.containers)  # type: ignore[arg-type]
        found: set[str] = set()
        for root in roots:
            found |= {root.name} | graph.find_descendants(root.name)
        return found


def _edges(graph: grimp.ImportGraph, module: str, modules: set[str]) -> list[str]:
    return sorted(graph.find_modules_directly_imported_by(module) & modules)


def _components(graph: grimp.ImportGraph, modules: set[str]) -> list[list[str]]:
    """Tarjan's strongly connected components, iterative (the graph has ~400 modules)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[list[str]] = []
    for start in sorted(modules):
        if start in index:
            continue
        work = [(start, iter(_edges(graph, start, modules)))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    result.append(_pop_component(stack, on_stack, node))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(_edges(graph, child, modules))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return result


def _pop_component(stack: list[str], on_stack: set[str], root: str) -> list[str]:
    component = []
    while True:
        member = stack.pop()
        on_stack.discard(member)
        component.append(member)
        if member == root:
            return sorted(component)


def _one_cycle(graph: grimp.ImportGraph, component: list[str]) -> list[str]:
    """A shortest way from the component's first module back to itself."""
    start, members = component[0], set(component)
    back = min(
        (
            graph.find_shortest_chain(importer=succ, imported=start) or ()
            for succ in _edges(graph, start, members)
        ),
        key=lambda chain: len(chain) or 10**6,
    )
    return [start, *back]
