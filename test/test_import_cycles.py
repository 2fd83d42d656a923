# Copyright 2026 yolo_trt_ros maintainers
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
No import cycle anywhere in yolo_trt_ros, lazy imports (inside functions) included.

Every module's source is parsed (nothing is imported), each ``import`` statement anywhere in it
becomes an edge to the package module it names (and to the packages above it, whose
``__init__`` Python runs first), and the graph must have no cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Set

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = 'yolo_trt_ros'


def module_files() -> Dict[str, Path]:
    """Map every module name of the package to its file."""
    out = {}
    for path in sorted((ROOT / PACKAGE).rglob('*.py')):
        parts = list(path.relative_to(ROOT).with_suffix('').parts)
        if parts[-1] == '__init__':
            parts.pop()
        out['.'.join(parts)] = path
    return out


def _targets(node: ast.AST, module: str, is_package: bool, known: Set[str]) -> List[str]:
    names: List[str] = []
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            base = module.split('.') if is_package else module.split('.')[:-1]
            base = base[: len(base) - (node.level - 1)]
            prefix = '.'.join(base + ([node.module] if node.module else []))
        else:
            prefix = node.module or ''
        names = [prefix]
        # 'from pkg import mod' imports the module pkg.mod
        names += [f'{prefix}.{a.name}' for a in node.names if f'{prefix}.{a.name}' in known]
    out = []
    for name in names:
        if not name.startswith(PACKAGE):
            continue
        while name and name not in known:  # 'pkg.mod.attr' -> 'pkg.mod'
            name = name.rpartition('.')[0]
        # the packages above a module run their __init__ first
        parts = name.split('.')
        out += ['.'.join(parts[: i + 1]) for i in range(len(parts))]
    return out


def import_graph() -> Dict[str, Set[str]]:
    """Build the module -> imported modules graph of the package (all imports, lazy ones too)."""
    files = module_files()
    known = set(files)
    graph: Dict[str, Set[str]] = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(), str(path))
        is_package = path.name == '__init__.py'
        edges = set()
        for node in ast.walk(tree):
            edges.update(_targets(node, module, is_package, known))
        edges.discard(module)
        # a module's own parent packages are already being imported when it runs
        parents = {'.'.join(module.split('.')[: i + 1]) for i in range(module.count('.'))}
        graph[module] = edges - parents
    return graph


def find_cycles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """Return the strongly connected components with more than one module (Tarjan)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    cycles: List[List[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def test_the_walker_sees_lazy_imports_and_finds_a_cycle():
    """The checker itself: imports inside functions count, and a two-module cycle is found."""
    graph = import_graph()
    # registry imports the backends only by module path strings, never with import statements
    assert 'yolo_trt_ros.backends.base' in graph['yolo_trt_ros.backends.registry']
    # tools/validate.py imports the registry inside a function (a lazy import)
    assert 'yolo_trt_ros.backends.registry' in graph['yolo_trt_ros.tools.validate']
    assert find_cycles({'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': {'a'}}) == [['a', 'b', 'c']]
    assert find_cycles({'a': {'b'}, 'b': set()}) == []


def test_no_import_cycle_in_the_package():
    graph = import_graph()
    assert len(graph) > 40  # every module was parsed
    cycles = find_cycles(graph)
    detail = [
        ' <-> '.join(c) + ': ' + '; '.join(f'{m} imports {sorted(graph[m] & set(c))}' for m in c)
        for c in cycles
    ]
    assert not cycles, 'import cycles:\n' + '\n'.join(detail)


def test_engine_cache_is_a_leaf():
    graph = import_graph()
    assert graph['yolo_trt_ros.backends.engine_cache'] == set()
    assert graph['yolo_trt_ros.backends.base'] <= {
        'yolo_trt_ros',
        'yolo_trt_ros.core',
        'yolo_trt_ros.core.decode',
    }
