"""The base layer: config schema, run folder, checkpoints, logger, metric plug-ins. Imports no other craftlab layer."""
