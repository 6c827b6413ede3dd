"""Command-line plumbing of the tools (`python -m pggan.generate`, `python -m pggan.export`) and of train.py.

Each tool defines its absl flags in its own `FlagValues` rather than the global FLAGS: the tools, the dataset
tool and the tests share one process under pytest, and the same names mean different things to different
tools (`--lod` is a float here, an integer to `data.dataset_tool`), which one global registry refuses.

Nothing here imports TensorFlow: `common/__init__.py` calls quiet_tensorflow_logs() before anything does.
"""
import os
import shutil
import sys

from absl import flags


class OptionsError(ValueError):
    """An invalid option of a run; the message names the flag."""


def quiet_tensorflow_logs(environ=os.environ):
    """Sets TensorFlow's C++ log level (TF_CPP_MIN_LOG_LEVEL), unless the user has, before its first import.

    Without an NVIDIA GPU: 3, FATAL only. The C++ errors of such a host are the CUDA probe failing
    (`failed call to cuInit: ... (303)`), said on every run by TensorFlow's CUDA builds; Python exceptions
    carry the message of every error that stops a run, and they are not affected. With a GPU: 1, which hides
    the INFO lines and keeps warnings and errors (cuDNN, memory), where they matter. Lines that a TensorFlow
    library logs while it is being loaded, before it reads the level (`cudart_stub.cc: Could not find cuda
    drivers`, the oneDNN notice of `port.cc`), cannot be silenced this way.
    """
    visible = environ.get('CUDA_VISIBLE_DEVICES')
    has_gpu = (os.path.exists('/dev/nvidiactl') or shutil.which('nvidia-smi') is not None) and visible not in ('', '-1')
    environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '1' if has_gpu else '3')


def new_flag_values():
    """An empty FlagValues holding only `--help`."""
    flag_values = flags.FlagValues()
    flags.DEFINE_bool('help', False, 'Show this help and exit.', short_name='h', flag_values=flag_values)
    return flag_values


def run_tool(main, flag_values, argv, doc='', errors=(ValueError,)):
    """Parses `argv` (argv[0] is the program) into `flag_values`, then calls main(); returns the exit status.

    A bad flag, a stray argument, or any exception of type `errors` raised by main() prints one line
    `error: ...` on stderr and returns 1, without a traceback; anything else is a bug and propagates.
    Values from a previous call are reset first, so tests may call a tool repeatedly in one process.
    """
    flag_values.unparse_flags()
    try:
        rest = flag_values(list(argv))
        if flag_values.help:
            print(doc.strip() + '\n\nflags:\n' + flag_values.get_help())
            return 0
        if len(rest) > 1:
            raise ValueError(f'unexpected arguments {rest[1:]} (all arguments are --flags; see --help)')
        main()
    except (flags.Error,) + tuple(errors) as e:
        print(f'error: {_one_line(e)}', file=sys.stderr)
        return 1
    return 0


def _one_line(e):
    return ' '.join(str(e).split()) or type(e).__name__


# --------------------------------------------------------------------------------------------------------
# train.py: an absl app on the global FLAGS, whose flags are defined by group, one module per group.

def grouped_help(doc, groups, flag_values=flags.FLAGS):
    """`doc`, then the key flags of each module of `groups` under the module's name (absl's module_help)."""
    text = '\n'.join(flag_values.module_help(module) for module in groups)
    return f'{doc.strip()}\n\nflags:\n{text}\n\nabsl\'s own flags (logging, debugging) too: --helpfull'


class _GroupedHelpFlag(flags.BooleanFlag):
    """absl.app's --help / --helpshort, printing grouped_help and exiting 0 (absl's lists one module, exits 1)."""

    def __init__(self, name, short_name, render):
        super().__init__(name, False, 'Show the flags of this program by group and exit.', short_name=short_name,
                         allow_override=True, allow_hide_cpp=True)
        self._render = render

    def parse(self, argument):
        if self._parse(argument):
            print(self._render())
            sys.exit(0)


def use_grouped_help(doc, groups):
    """Makes `--help` (`-h`, `--helpshort`, `-?`) of the absl app about to run print grouped_help(doc, groups);
    `--helpfull` stays absl's complete list. Call before app.run()."""
    from absl import app
    app.define_help_flags()                   # absl's, defined once; ours replace two of them (allow_override).
    render = lambda: grouped_help(doc, groups)  # noqa: E731
    flags.DEFINE_flag(_GroupedHelpFlag('help', 'h', render))
    flags.DEFINE_flag(_GroupedHelpFlag('helpshort', '?', render))
