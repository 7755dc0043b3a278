"""Live pushes to operators' browsers."""
