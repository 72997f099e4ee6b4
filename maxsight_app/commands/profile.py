"""`maxsight profile ...`: list, create, show, set, feedback, report, log, export, import, delete."""
from __future__ import annotations

import json
import stat
from pathlib import Path

from maxsight_app.commands.common import CommandError, check_output_folder, check_outputs


def add_parser(sub) -> None:
    pr = sub.add_parser("profile", help="user profiles: list, create, show, set, feedback, export, import") \
        .add_subparsers(dest="profile_cmd", required=True)
    pr.add_parser("list").set_defaults(func=cmd_profile)
    for name in ("create", "show"):
        q = pr.add_parser(name)
        q.add_argument("name")
        q.set_defaults(func=cmd_profile)
    q = pr.add_parser("set", help="set one preference, e.g. `maxsight profile set Ada units steps`")
    q.add_argument("name")
    q.add_argument("key")
    q.add_argument("value")
    q.set_defaults(func=cmd_profile)
    q = pr.add_parser("feedback", help="useful | not_useful | too_much, optionally about a class")
    q.add_argument("name")
    q.add_argument("kind")
    q.add_argument("label", nargs="?")
    q.set_defaults(func=cmd_profile)
    q = pr.add_parser("report", help="therapy report: plots (PNG, PDF) and CSV of every session")
    q.add_argument("name")
    q.add_argument("--out", default="reports", help="folder for the files (default: reports)")
    q.set_defaults(func=cmd_profile)
    q = pr.add_parser("sounds", help="your own sounds: list, teach from 3-5 files, record from the microphone, forget")
    q.add_argument("name")
    q.add_argument("action", choices=["list", "teach", "record", "forget"])
    q.add_argument("label", nargs="?", help="what the sound is, e.g. 'my doorbell'")
    q.add_argument("files", nargs="*", help="teach: 3-5 sound files of it")
    q.add_argument("--examples", type=int, default=3, help="record: how many examples (3-5, default 3)")
    q.add_argument("--seconds", type=float, default=4.0, help="record: seconds per example (default 4)")
    q.set_defaults(func=cmd_profile)
    q = pr.add_parser("log", help="the near-miss log: each warning and danger said, and find mode's findings")
    q.add_argument("name")
    q.add_argument("--clear", action="store_true", help="delete every entry of this profile's log")
    q.set_defaults(func=cmd_profile)
    q = pr.add_parser("delete", help="delete a profile and everything kept for it (near-miss log, therapy, "
                                     "taught sounds and objects)")
    q.add_argument("name")
    q.set_defaults(func=cmd_profile)
    q = pr.add_parser("export")
    q.add_argument("file")
    q.set_defaults(func=cmd_profile)
    q = pr.add_parser("import")
    q.add_argument("file")
    q.add_argument("--replace", action="store_true", help="overwrite profiles with the same name")
    q.set_defaults(func=cmd_profile)


def read_export(path: Path) -> dict:
    """A profile export, read with limits: one sentence for a missing, huge, malformed or
    absurdly nested file."""
    from maxsight_app.profile.store import MAX_IMPORT_BYTES
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            raise CommandError(f"{path} is not a regular file (a folder, pipe or device); give an export file")
        if st.st_size > MAX_IMPORT_BYTES:
            raise CommandError(f"{path} is larger than {MAX_IMPORT_BYTES // 2**20} MB; it is not a MaxSight profile export")
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    except json.JSONDecodeError as exc:
        raise CommandError(f"{path} is not valid JSON ({exc.msg}, line {exc.lineno})") from None
    except RecursionError:
        raise CommandError(f"{path} is nested too deeply to be a MaxSight profile export") from None


def _export(store, out: Path) -> None:
    """Every profile, with everything an import replaces (taught sounds, personal objects and their
    vectors, therapy sessions), written atomically; refused when larger than an import accepts."""
    from maxsight_app.files import atomic
    from maxsight_app.personal_objects import stored_vectors
    from maxsight_app.profile.store import MAX_IMPORT_BYTES
    check_outputs({"the export file": out}, {"the profile database": store.path})
    data = store.export_json(vectors=lambda uid: stored_vectors(store, uid))
    text = json.dumps(data, indent=1)
    size = len(text.encode("utf-8"))
    if size > MAX_IMPORT_BYTES:
        raise CommandError(f"the export would be {size / 2**20:.0f} MB, more than the {MAX_IMPORT_BYTES // 2**20} MB an import "
                           f"accepts; forget some taught objects or sounds (or lower near_miss_max) and export again")
    with atomic(out, encoding="utf-8") as f:
        f.write(text)
    print(f"exported {len(store.users())} profile(s) to {out}")
    for r in data["renamed"]:
        print(f"  the profile {r['from']!r} is in it as {r['to']!r}: an import refuses names with /, \\ or ..")


def cmd_profile(args) -> int:
    from maxsight_app.profile.feedback import apply_feedback
    from maxsight_app.profile.store import ProfileError, ProfileStore, default_path
    from maxsight_app.profile.schema import word
    store = ProfileStore(default_path())
    try:
        def uid_of(name):
            uid = store.find_user(name)
            if uid is None:
                raise ProfileError(f"there is no profile called {name!r}")
            return uid
        if args.profile_cmd == "list":
            for u in store.users():
                print(f"{u['name']:<20} created {u['created']}")
        elif args.profile_cmd == "create":
            store.create_user(args.name)
            print(f"created profile {args.name!r}")
        elif args.profile_cmd == "show":
            uid = uid_of(args.name)
            for k, v in store.preferences(uid).items():
                print(f"{k:<18} {word(v)}")
            for k, v in sorted(store.class_weights(uid).items()):
                print(f"weight {k:<11} {v:.2f}")
        elif args.profile_cmd == "set":
            uid = uid_of(args.name)
            store.set_preference(uid, args.key, args.value)
            print(f"{args.key} = {word(store.preferences(uid)[args.key])}")
        elif args.profile_cmd == "feedback":
            changes = apply_feedback(store, uid_of(args.name), args.kind, args.label or "")
            print(", ".join(f"{k} -> {v:.2f}" for k, v in changes.items()) or "noted")
        elif args.profile_cmd == "report":
            from maxsight_app.therapy import report
            check_output_folder("--out", args.out)
            rep = report.generate(store, uid_of(args.name), Path(args.out))
            print(f"report for {args.name}: {rep.png}, {rep.pdf}, {rep.sessions_csv}, {rep.trials_csv}, {rep.near_misses_csv} "
                  f"({rep.sessions} session(s), {rep.near_misses} near-miss log entries)")
            for n in rep.skipped:
                print(f"  {n}")
        elif args.profile_cmd == "sounds":
            _sounds(store, uid_of(args.name), args)
        elif args.profile_cmd == "log":
            from maxsight_app.nearmiss import read_log
            uid = uid_of(args.name)
            if args.clear:
                print(f"deleted {store.clear_near_misses(uid)} near-miss log entries of {args.name!r}")
            else:
                entries, notes = read_log(store, uid)
                for e in entries:
                    print(e.words())
                for n in notes:
                    print(f"  {n}")
                if not entries and not notes:
                    state = "on" if store.profile(uid).near_miss_log else "off (maxsight profile set NAME near_miss_log on)"
                    print(f"{args.name!r} has no near-miss log entries; the log is {state}")
        elif args.profile_cmd == "delete":
            from maxsight_app.personal_objects import index_path
            uid = uid_of(args.name)
            faiss = index_path(store, uid)
            store.delete_user(uid)
            faiss.unlink(missing_ok=True)
            print(f"deleted profile {args.name!r} and everything kept for it")
        elif args.profile_cmd == "export":
            _export(store, Path(args.file))
        elif args.profile_cmd == "import":
            from maxsight_app.personal_objects import import_profiles
            done = import_profiles(store, read_export(Path(args.file)), replace=args.replace)
            print("imported " + ", ".join(d.name for d in done))
            for d in done:
                if d.kept:
                    print(f"  {d.name}: the file holds no {' or '.join(d.kept)}, so the ones already here were kept")
    finally:
        store.close()
    return 0


def _sounds(store, uid: int, args) -> None:
    """`maxsight profile sounds NAME list|teach|record|forget`."""
    from maxsight_app.own_sounds import MAX_EXAMPLES, MIN_EXAMPLES, OwnSounds, record_examples
    if args.action == "list":
        names = store.custom_sounds(uid)
        for label, e in names.items():
            print(f"{label:<30} {len(e)} patches")
        if not names:
            print("no sounds taught yet")
        return
    if not args.label:
        raise CommandError(f"say which sound, e.g. `maxsight profile sounds {args.name} {args.action} 'my doorbell' ...`")
    if args.action == "forget":
        OwnSounds(store, uid, None).forget(args.label)
        print(f"forgot {args.label!r}")
        return
    from maxsight_app.compose import make_registry
    from maxsight_app.measure.sounds import detector
    own = OwnSounds(store, uid, detector(make_registry()))
    if args.action == "teach":
        n = own.teach_files(args.label, [Path(f) for f in args.files])
    else:
        if not MIN_EXAMPLES <= args.examples <= MAX_EXAMPLES or not 1.0 <= args.seconds <= 30.0:
            raise CommandError(f"--examples must be {MIN_EXAMPLES}-{MAX_EXAMPLES} and --seconds 1-30")
        from maxsight_app.capture.microphone import MicrophoneSource
        mic = MicrophoneSource(seconds=max(30.0, args.seconds * 2))
        problem = mic.check()
        if problem:
            raise CommandError(f"cannot record: {problem}")
        mic.start()
        try:
            examples = record_examples(mic.buffer, args.examples, args.seconds,
                                       prompt=lambda i: print(f"Example {i} of {args.examples}: make the sound now "
                                                              f"({args.seconds:.0f} s)…", flush=True))
        finally:
            mic.stop()
        n = own.teach(args.label, examples)
    print(f"I will listen for {args.label} ({n} patches from the examples)")
