"""Qt-free inference: Stage A, Stage B, models. Importing it first turns runtime telemetry off
(engine/runtime_env.py), so no process of MaxSight can load ONNX Runtime with it on."""
from engine.runtime_env import quiet_runtimes

quiet_runtimes()
