"""How an option of a training run is declared: once, where it lives, with its flag, help and check.

Two forms, both read by `flags/` (which defines the absl flags) and by common/training/options.py (which
applies the flags given and runs the checks):

    G_smoothing: float = option(0.999, 'Beta of the Gs moving average.', 'schedule')     # a dataclass field
    Flag('fmap_base', int, 'Overall multiplier ...', 'network', to=('G_kwargs.fmap_base', 'D_kwargs.fmap_base'))

A field's flag sets that field (its name unless `flag=` says otherwise); a standalone `Flag` sets the
values at its `to` paths (inside G_kwargs, sched, metric_kwargs, ...), for flags that set several values
or a value inside a dict. Nothing here imports TensorFlow: `train.py --help` runs without it.
"""
import dataclasses
from typing import Any, Callable, Optional, Tuple

from common.util.cli import OptionsError

_MISSING = dataclasses.MISSING


@dataclasses.dataclass(frozen=True)
class Flag:
    name: str                                   # --name on the command line.
    type: Any                                   # int, float, bool, str or list (comma-separated).
    help: str
    group: str                                  # The --help section: module flags.<group>.
    to: Tuple[str, ...] = ()                    # Where the value goes: 'field', 'sched.field', 'G_kwargs.key'.
    choices: Tuple[str, ...] = ()               # An enum flag's values.
    aliases: Tuple[str, ...] = ()               # Other spellings (ada-pytorch's).
    absl_default: Any = None                    # The flag's own default; None = not given (preset or field default).
    parse: Optional[Callable] = None            # Flag value -> option value; ValueError('expected ...').
    check: Optional[Tuple[Callable, str]] = None  # (predicate of the option value, 'expected ...').
    implies: Tuple[Tuple[str, Any], ...] = ()   # (path, value) also set when the flag is given a true value.
    owner: Optional[str] = None                 # The model family that declares it (None: every family).

    def convert(self, value):
        """The flag's value as the option's, or OptionsError naming the flag."""
        if self.parse is None:
            return value
        try:
            return self.parse(value)
        except ValueError as e:
            raise OptionsError(f'--{self.name}={_text(value)}: {e}') from None

    def validate(self, value):
        """OptionsError naming the flag if the option value fails the declared check or choices."""
        if self.choices and value is not None and value not in self.choices:
            raise OptionsError(f'--{self.name}={value}: expected {" or ".join(self.choices)}')
        if self.check is not None and not self.check[0](value):
            raise OptionsError(f'--{self.name}={_text(value)}: {self.check[1]}')


def _text(value):
    return ','.join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def option(default=_MISSING, help='', group='', *, flag=None, type=None, default_factory=_MISSING, **kwargs):
    """A dataclass field that is also a flag (named `flag`, default the field's name). kwargs are Flag's
    (choices, aliases, parse, check, implies)."""
    meta = {'flag': (flag, type, help, group, kwargs)}
    if default_factory is not _MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def field_flags(cls, prefix='', owner=None):
    """The Flags declared by the fields of dataclass `cls`; `prefix` ('sched.') places them under a field."""
    out = []
    for field in dataclasses.fields(cls):
        if 'flag' not in field.metadata:
            continue
        name, kind, help, group, kwargs = field.metadata['flag']
        kind = kind or _base_type(field.type)
        out.append(Flag(name or field.name, kind, help, group, to=(prefix + field.name,), owner=owner, **kwargs))
    return out


def _base_type(annotation):
    """int for `int` and `Optional[int]`; str for anything else the command line spells as text."""
    for kind in (bool, int, float, str, list):
        if annotation is kind or kind in getattr(annotation, '__args__', ()) or annotation == kind.__name__:
            return kind
    return str


def with_owner(flags, owner):
    return [dataclasses.replace(f, owner=owner) for f in flags]


def at_least(n):
    return (lambda v: v >= n, f'expected at least {n}')


def resolution_dict(value_type):
    """A parser of '4:128,8:64' -> {4: 128, 8: 64}."""
    def parse(text):
        out = {}
        for item in filter(None, (s.strip() for s in text.split(','))):
            try:
                k, v = item.split(':')
                out[int(k)] = value_type(v)
            except ValueError:
                raise ValueError('expected RES:VALUE pairs such as 4:128,8:64') from None
        return out
    return parse
