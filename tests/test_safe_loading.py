"""Network pickles are read by a restricted unpickler: a pickle that tries to import or call anything besides
Network state and NumPy arrays is refused with one clear line, and nothing in it runs, not even the
network source code that official pickles carry (which the official loader executes). The ada-pytorch layout
(persistent modules, torch tensors) has its own tests in test_ada_pytorch_pickles.py."""
import io
import lzma
import os
import pickle
import subprocess

import pytest

import pggan
import stylegan2
from common.util.pickle_io import NetworkLoadError, NetworkState, SafeUnpickler

DATA = os.path.join(os.path.dirname(__file__), 'data')


class _Call:
    """Pickles as a call of `func(*args)`: what a malicious pickle does."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _payloads(marker):
    touch = f'open({str(marker)!r}, "w").write("pwned")'
    return {
        'os.system': _Call(os.system, f'touch {marker}'),
        'builtins.exec': _Call(exec, touch),
        'builtins.eval': _Call(eval, touch),
        'subprocess.Popen': _Call(subprocess.Popen, ['touch', str(marker)]),
        'builtins.getattr': _Call(getattr, _Call(__import__, 'os'), 'system'),
        'numpy.load': _Call(__import__('numpy').load, str(marker)),
    }


@pytest.mark.parametrize('name', sorted(_payloads('x')))
@pytest.mark.parametrize('loader', [pggan.load_network, stylegan2.load_network], ids=['pggan', 'stylegan2'])
def test_pickle_that_calls_a_function_is_refused_and_runs_nothing(name, loader, tmp_path):
    marker = tmp_path / 'pwned'
    payload = _payloads(marker)[name]
    # Bare, in the TF layout (G, D, Gs), and in the ada-pytorch snapshot layout.
    for wrapper in (lambda p: p, lambda p: (p, p, p), lambda p: {'state': [1, 2, p]},
                    lambda p: {'training_set_kwargs': {}, 'G': p, 'D': p, 'G_ema': p}):
        path = tmp_path / 'evil.pkl'
        path.write_bytes(pickle.dumps(wrapper(payload), protocol=2))
        with pytest.raises(NetworkLoadError, match=r'evil\.pkl: refusing to load global \S+: official network '
                                                   r'pickles need only Network state and NumPy arrays'):
            loader(str(path))
        assert not marker.exists()


def _restate(path, edit, official_network_class):
    """Rewrites an official-format pickle with `edit(state)` applied to every network and sub-network."""
    raw = open(path, 'rb').read()
    if path.endswith('.xz'):
        raw = lzma.decompress(raw)

    def convert(obj):
        if isinstance(obj, NetworkState):
            state = dict(obj.state)
            if 'components' in state:
                state['components'] = {k: convert(v) for k, v in state['components'].items()}
            edit(state)
            return official_network_class(state)
        return tuple(convert(o) for o in obj) if isinstance(obj, tuple) else obj
    return pickle.dumps(convert(SafeUnpickler(io.BytesIO(raw)).load()), protocol=2)


@pytest.mark.parametrize('loader,fixture', [(pggan.load_network, 'pggan/config_B.pkl'),
                                            (stylegan2.load_network, 'stylegan2/sg2_uncond.pkl.xz')],
                         ids=['pggan', 'stylegan2'])
def test_network_source_code_in_an_official_pickle_is_never_executed(loader, fixture, tmp_path,
                                                                       official_network_class):
    marker = tmp_path / 'pwned'

    def plant(state):
        state['build_module_src'] = f'open({str(marker)!r}, "w").write("pwned")\n' + state['build_module_src']
    path = tmp_path / 'planted.pkl'
    path.write_bytes(_restate(os.path.join(DATA, fixture), plant, official_network_class))
    nets = loader(str(path))  # The variables are fine: it loads, and the planted source never runs.
    assert nets.Gs is not None and not marker.exists()
