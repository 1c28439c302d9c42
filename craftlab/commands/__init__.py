"""What users type: the CLI and its commands (watch, eval, report, doctor, seeds). The top layer."""
