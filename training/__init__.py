"""The training toolkit. `engine` is imported first so runtime telemetry is off before any runtime
loads (engine/runtime_env.py)."""
import engine  # noqa: F401
