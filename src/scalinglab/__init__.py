"""scalinglab."""
