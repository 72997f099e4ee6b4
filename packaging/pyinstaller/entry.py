"""The bundle's entry point: `maxsight` as installed from the wheel. freeze_support first: Stage B
runs in a spawned process, which re-enters here with multiprocessing's arguments."""
import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from maxsight_app.cli import main
    sys.exit(main())
