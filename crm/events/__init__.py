"""Events the community hosts or attends, and who takes part."""
