"""`maxsight doctor [--json FILE|-]`: check everything a run depends on (maxsight_app/doctor.py),
one line each with the fix when it fails. Exit 0 when MaxSight can run (optional things such as a
camera or a sound card may be missing), 1 when something required is broken."""
from __future__ import annotations

import json
import sys


def add_parser(sub) -> None:
    d = sub.add_parser("doctor", help="check Python, packages, Qt, devices, voices, models, ONNX Runtime, disk and "
                                      "profiles; one line each with the fix")
    d.add_argument("--json", nargs="?", const="-", metavar="FILE",
                   help="write the report as JSON (to FILE, or to stdout when no file is given)")
    d.set_defaults(func=cmd_doctor)


def cmd_doctor(args) -> int:
    from maxsight_app.doctor import run_checks
    to_stdout = args.json == "-"
    if args.json and not to_stdout:
        from pathlib import Path

        from maxsight_app.commands.common import check_outputs
        check_outputs({"--json": Path(args.json)}, {})
    report = run_checks(progress=None if to_stdout else (lambda c: print(c.line(), flush=True)))
    if to_stdout:
        json.dump(report.to_json(), sys.stdout, indent=1)
        print()
    else:
        print(report.summary())
        if args.json:
            from maxsight_app.commands.common import write_json
            write_json(args.json, report.to_json())
            print(f"JSON written to {args.json}")
    return 0 if report.ok else 1
