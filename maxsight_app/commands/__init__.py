"""The command line's wing: one module per command group, each with `add_parser(subparsers)` and
its command functions. cli.py only builds the parser from GROUPS and dispatches."""
from maxsight_app.commands import bench, doctor, eval, models, profile, run, soak, train, tune

GROUPS = (models, run, eval, profile, bench, soak, train, tune, doctor)
