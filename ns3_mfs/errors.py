"""Errors of a run that the command line turns into exit codes (ConfigError, in config.py, is 2)."""



class RunStopped(RuntimeError):
    """A run ended early (deadlock, pause storm, watchdog); its results are marked partial."""

    exit_code = 3


class CheckFailed(RuntimeError):
    """An end-of-run invariant does not hold: the numbers of this run cannot be trusted."""

    exit_code = 4


class OutputError(RuntimeError):
    """The results could not be written (disk full, permissions): the message says where the partial output is."""

    exit_code = 5
