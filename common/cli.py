"""Command-line plumbing of the tools (`python -m pggan.generate`, `python -m pggan.export`).

Each tool defines its absl flags in its own `FlagValues` rather than the global FLAGS: the tools, the dataset
tool and the tests share one process under pytest, and the same names mean different things to different
tools (`--lod` is a float here, an integer to `data.dataset_tool`), which one global registry refuses.
"""
import sys

from absl import flags


class OptionsError(ValueError):
    """An invalid option of a run; the message names the flag."""


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
