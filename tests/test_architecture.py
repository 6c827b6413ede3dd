"""The layering claims of ARCHITECTURE.md, checked on the source with `ast` (no imports run): the model families
are named in one registry only, nothing in common/ branches on a family name, and no module imports itself
back through others, function-level imports and `importlib.import_module('literal')` included."""
import ast
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ('common', 'data', 'pggan', 'stylegan2', 'benchmarks', 'flags')
FAMILIES = ('pggan', 'stylegan2')
REGISTRY = 'common.families'


def _modules():
    """{dotted name: path} of the project's modules (packages by their own name)."""
    out = {}
    for top in PACKAGES:
        for folder, _, files in os.walk(os.path.join(REPO, top)):
            for f in files:
                if f.endswith('.py'):
                    name = os.path.relpath(os.path.join(folder, f), REPO)[:-3].replace(os.sep, '.')
                    out[name[:-len('.__init__')] if name.endswith('.__init__') else name] = os.path.join(folder, f)
    for f in ('train',):
        out[f] = os.path.join(REPO, f + '.py')
    return out


MODULES = _modules()
TREES = {name: ast.parse(open(path).read(), path) for name, path in MODULES.items()}


def _imported(name, tree):
    """The project modules that `name` imports anywhere in its body (and the packages Python runs first)."""
    package = name if MODULES[name].endswith('__init__.py') else name.rpartition('.')[0]
    found = set()
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                parts = package.split('.')
                base = '.'.join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            targets = [f'{base}.{a.name}' if f'{base}.{a.name}' in MODULES else base for a in node.names]
        elif (isinstance(node, ast.Call) and getattr(node.func, 'attr', getattr(node.func, 'id', None)) == 'import_module'
              and node.args and isinstance(node.args[0], ast.Constant)):
            targets = [node.args[0].value]
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition('.')[0]
            if target and target != name:
                found.add(target)
    for target in list(found):  # Importing a.b.c runs a and a.b first (not the importer's own packages).
        while '.' in target:
            target = target.rpartition('.')[0]
            if target in MODULES and not (name == target or name.startswith(target + '.')):
                found.add(target)
    return found


GRAPH = {name: _imported(name, tree) for name, tree in TREES.items()}


def _below(prefixes):
    return [name for name in MODULES if name.split('.')[0] in prefixes]


def test_only_the_registry_imports_a_family_from_common_or_data():
    bad = {name: sorted(t for t in GRAPH[name] if t.split('.')[0] in FAMILIES)
           for name in _below(('common', 'data')) if name != REGISTRY}
    assert not {k: v for k, v in bad.items() if v}


def test_nothing_in_common_compares_a_family_name():
    hits = []
    for name in _below(('common',)):
        for node in ast.walk(TREES[name]):
            if isinstance(node, ast.Compare):
                for operand in [node.left] + node.comparators:
                    values = operand.elts if isinstance(operand, (ast.Tuple, ast.List, ast.Set)) else [operand]
                    if any(isinstance(v, ast.Constant) and v.value in FAMILIES for v in values):
                        hits.append(f'{name}:{node.lineno}')
    assert not hits


def test_data_imports_no_engine_layer():
    allowed = ('data.', 'common.util.')
    bad = {name: sorted(t for t in GRAPH[name] if not t.startswith(allowed) and t not in ('data', 'common',
                                                                                          'common.util'))
           for name in _below(('data',))}
    assert not {k: v for k, v in bad.items() if v}


@pytest.mark.parametrize('layer, may_import', [
    ('common.util', ('common.util',)),
    ('common.ops', ('common.util', 'common.ops')),
    ('common.metrics', ('common.util', 'common.ops', 'common.metrics', 'data')),
])
def test_common_layers_import_only_downward(layer, may_import):
    bad = {}
    for name in MODULES:  # A layer's command-line entry point (`python -m common.metrics`) sits on top.
        if (name == layer or name.startswith(layer + '.')) and not name.endswith('.__main__'):
            up = sorted(t for t in GRAPH[name] if t != 'common' and not any(t == m or t.startswith(m + '.')
                                                                             for m in may_import))
            if up:
                bad[name] = up
    assert not bad


def test_no_import_cycles():
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):  # Tarjan's strongly connected components.
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(GRAPH[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))
    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    assert not cycles


def test_the_checks_see_what_they_look_for():
    """The graph is read right: known edges are found, including function-level ones and the registry's."""
    assert 'common.families' in GRAPH['common.training.loop'] or 'common.families' in GRAPH.get('common.training.loop', ())
    assert {'pggan.family', 'stylegan2.family'} <= GRAPH[REGISTRY]
