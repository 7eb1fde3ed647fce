"""Tools the model calls: base and registry, files, edit, shell, tests, plan."""
