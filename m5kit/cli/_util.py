"""The typer app shared by every m5kit command, and its error handling."""

from __future__ import annotations

import contextlib
import inspect
import logging
import sys
import warnings

import typer
from rich.console import Console
from typer.core import TyperGroup

from m5kit import _checks
from m5kit._checks import number
from m5kit.errors import M5kitError

__all__ = ["app", "data_app", "classify_app", "console", "err_console", "fail", "interrupted", "checked", "parse_assignment",
           "quiet_dask", "print_whole", "TIMEOUT"]

_HELP = ("Forecasters trained per group of M5 series (CNN-LSTM, LightGBM, XGBoost), time-series "
         "classifiers and product embeddings (prod2vec), with their fits in parallel on Dask.")


#: The key of :class:`_Group`'s ``ctx.meta`` entry of the command line's arguments.
_ARGS = "m5kit.args"


class _Group(TyperGroup):
    """m5kit's command group: Ctrl-C in any command is one line and exit code 130.

    typer (0.15 to 0.29) ends a command on Ctrl-C with code 130 and nothing
    said. A command that writes an output folder catches KeyboardInterrupt
    itself to say what the folder keeps (:func:`interrupted`).
    """

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            interrupted()

    def parse_args(self, ctx, args):
        ctx.meta[_ARGS] = list(args)  # the command line as typed, for :func:`home` (the meta is every context's)
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_Group,
    name="m5kit",
    help=_HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Generate data: M5-shaped sales (`generate`) and labelled series for `m5kit classify` "
                       "(`shapes`). `m5kit levels` counts the groups of a data folder.", no_args_is_help=True)
app.add_typer(data_app, name="data")
classify_app = typer.Typer(help="Classify time series: train InceptionTime or LSTM-FCN from CSV, predict, serve.", no_args_is_help=True)
app.add_typer(classify_app, name="classify")

console = Console()
err_console = Console(stderr=True, soft_wrap=True)


def print_whole(table) -> None:
    """Print a rich ``table`` on stdout with every header and value whole.

    Piped or redirected to a file (no terminal), rich fits a table into 80
    columns, cutting its cells ("num_le…", "COMPLE…"): there it gets the width
    it needs. In a terminal, the terminal's width, as rich does.
    """
    if console.is_terminal:
        console.print(table)
        return
    from rich.measure import Measurement

    needed = Measurement.get(console, console.options.update_width(1 << 20), table).maximum
    Console(file=console.file, width=max(needed, console.width)).print(table)


def quiet_dask() -> None:
    """Keep Dask's own log lines out of the terminal (a local scheduler runs in this process)."""
    import distributed  # noqa: F401  (configures its loggers on import; override them after)

    logging.getLogger("distributed").setLevel(logging.ERROR)


def quiet_tensorflow() -> None:
    """Keep TensorFlow's Python warnings off the terminal (run on each worker of a search).

    Each trial builds networks of a new architecture, and TensorFlow warns
    that functions were "traced again" once five new ones were traced: true of
    a search, and no use to its user. Errors still show.
    """
    logging.getLogger("tensorflow").setLevel(logging.ERROR)


def quiet_calendar() -> None:
    """Keep the calendar's warning of unknown event types off the terminal (run on each worker of a search: the
    command said it once, in one line, before the cluster started; each worker said it again in Python's two)."""
    from m5kit.transformers.calendar import EventTypeWarning

    warnings.simplefilter("ignore", EventTypeWarning)


def fail(message: str) -> None:
    """Print ``message`` as one line on stderr and exit with code 1."""
    err_console.print(f"error: {message}", markup=False, highlight=False)
    raise typer.Exit(1)


def interrupted(kept: str | None = None) -> None:
    """Ctrl-C: one line on stderr (``interrupted: <kept>``, what the output folder keeps and how to resume) and exit 130.

    typer ends a command on Ctrl-C with code 130 and nothing said. Dask's own
    lines of a cluster stopping midway are kept off the terminal.
    """
    logging.getLogger("distributed").setLevel(logging.CRITICAL)
    err_console.print("interrupted" + (f": {kept}" if kept else ""), markup=False, highlight=False)
    raise typer.Exit(130)


@contextlib.contextmanager
def warning_lines(*categories: type[Warning]):
    """Show each warning of ``categories`` raised inside as one line on stderr, when it is raised (before a long fit,
    and also when the command then fails); other warnings as Python shows them."""
    with warnings.catch_warnings():
        shown = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, categories):
                err_console.print(f"warning: {message}", markup=False, highlight=False)
            else:
                shown(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        for category in categories:
            warnings.simplefilter("always", category)
        yield


def _is_click(exc: BaseException, name: str) -> bool:
    """Whether ``exc`` is click's ``name`` exception, from click itself or from the copy typer bundles.

    typer 0.15-0.2x raise click's own classes; newer typers raise those of
    their bundled copy (``typer._click``): the class names are the same.
    """
    return any(cls.__name__ == name for cls in type(exc).__mro__)


def checked(check, *args, **kwargs):
    """A typer option callback that validates the option's text with a :mod:`m5kit._checks` function.

    Every option of every command is validated this way: the command gets the
    checked value in its proper type, and a bad value ends the command with
    the check's one-line message on stderr and exit code 1 (the same as any
    other user error), before the command does anything.

    Examples
    --------
    >>> from m5kit._checks import whole
    >>> checked(whole, "number of workers")("3")
    3
    """

    if "text" in inspect.signature(check).parameters:
        kwargs = {"text": True, **kwargs}  # options arrive as text

    def callback(value):
        if value is None:
            return None
        try:
            return check(value, *args, **kwargs)
        except M5kitError as exc:
            fail(str(exc))

    return callback


def home(value, ctx: typer.Context = None, param: typer.CallbackParam = None):
    """A typer callback for path options: a leading ``~`` is the home folder, as the shell makes it.

    The shell leaves it in a quoted path ('~/data/train.csv') and after an
    ``=`` (--out=~/runs): it was read as a folder named ``~`` in the working
    folder (an input "not found", an output written there). Train's
    --data-dir and :func:`~m5kit.datasets.load_m5` already read it so.

    An empty path (``--out ""``, an unset variable in ``--out "$DIR"``) is
    one line and exit 1: it reached the command as ``.``, the working folder.

    Examples
    --------
    >>> from pathlib import Path
    >>> home(Path("~/runs")) == Path.home() / "runs"
    True
    """
    if value is None:
        return None
    if ctx is not None and param is not None and not isinstance(value, (list, tuple)) and str(value) == ".":
        empty = _empty_option(ctx, param)
        if empty:
            fail(f"{empty} is empty: give a path (. for the working folder)")
    if isinstance(value, (list, tuple)):  # an argument given several times
        return [_checks.home(v) for v in value]
    return _checks.home(value)


#: What an empty --tracking-uri is told to give.
URI_HINT = "give the store's URI (sqlite:///PATH/mlflow.db, http://HOST:PORT), or leave the option out for the default store"

#: What an empty --scheduler is told to give.
SCHEDULER_HINT = "give the scheduler's address (tcp://HOST:8786), or leave the option out for a local cluster of --workers"


def filled(hint: str):
    """A typer callback for text options that refuses an empty value (``--tracking-uri ""``, an unset variable in
    ``--tracking-uri "$URI"``) in one line ending with ``hint``: the command took it for the option left out."""

    def callback(value, param: typer.CallbackParam = None):
        if value is not None and not str(value).strip():
            name = param.opts[0] if param is not None and param.opts else "the option"
            fail(f"{name} is empty: {hint}")
        return value

    return callback


def _empty_option(ctx, param) -> str | None:
    """The name ``param`` was given by with an empty value (``--out ""``, ``--out=``) on the command line, if it was:
    click hands the callback ``Path("")``, which is ``Path(".")``."""
    args = ctx.meta.get(_ARGS, [])
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg in param.opts and i + 1 < len(args) and args[i + 1] == "":
            return arg
        if arg.startswith("--") and arg.endswith("=") and arg[:-1] in param.opts:
            return arg[:-1]
    return None


#: ``--timeout`` of every command that may run on a --scheduler: one definition.
TIMEOUT = typer.Option("30", "--timeout", metavar="SECONDS", callback=checked(number, "timeout", hint="the seconds to wait for the scheduler, a number > 0"), help="Seconds to wait for the --scheduler before giving up.")


def parse_assignment(text: str) -> tuple[str, object]:
    """``NAME=VALUE`` of a ``--param`` option: the value as a number, a list (``32,16``), ``true``/``false`` (or
    ``True``/``False``), or text.

    Examples
    --------
    >>> parse_assignment("learning_rate=0.003")
    ('learning_rate', 0.003)
    >>> parse_assignment("lstm_units=32,16")
    ('lstm_units', [32, 16])
    >>> parse_assignment("precise_bn=False")
    ('precise_bn', False)
    """
    import json

    from m5kit.errors import ParamError

    name, sep, raw = text.partition("=")
    if not sep or not name.strip() or not raw.strip():
        raise ParamError(f"invalid --param {text!r}: give NAME=VALUE, e.g. learning_rate=0.003")

    def scalar(part: str):
        if part in ("True", "False"):  # Python's spelling, as a scikit-learn user writes it (JSON's is true, false)
            return part == "True"
        try:
            return json.loads(part)
        except ValueError:
            return part

    parts = [scalar(p.strip()) for p in raw.split(",")]
    return name.strip(), parts if len(parts) > 1 else parts[0]


def run_app(argv: list[str] | None = None) -> int:
    """Run the CLI; turn m5kit's user errors into one line on stderr and exit code 1.

    A usage error (unknown option or command, missing option) prints the
    usual short usage message with its hint and returns 2, as click does.
    Ctrl-C prints one line, ``interrupted`` (and, of a command that writes
    an output folder, what it keeps), and returns 130.
    """
    try:
        code = app(args=argv, prog_name="m5kit", standalone_mode=False)
    except M5kitError as exc:
        err_console.print(f"error: {exc}", markup=False, highlight=False)
        return 1
    except typer.Exit as exc:
        return exc.exit_code
    except KeyboardInterrupt:
        err_console.print("interrupted", markup=False)
        return 130
    except Exception as exc:  # click's usage errors and aborts
        if _is_click(exc, "ClickException"):
            exc.show(file=sys.stderr)
            return int(getattr(exc, "exit_code", 1))
        if _is_click(exc, "Abort"):
            return 1
        if _is_click(exc, "Exit"):
            return int(getattr(exc, "exit_code", 0))
        raise
    return code if isinstance(code, int) else 0


def _version(value: bool) -> None:
    if value:
        from m5kit import __version__

        console.print(f"m5kit {__version__}", markup=False, highlight=False)
        raise typer.Exit(0)


@app.callback()
def _main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, metavar="", help="Print m5kit's version and exit."),
) -> None:
    """m5kit: scikit-learn estimators whose fits run on a Dask cluster."""
