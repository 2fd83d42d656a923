"""Developer tools that are not part of the node: metrics, validate, quantize, sample data."""
