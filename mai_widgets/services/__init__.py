"""What the product does over HTTP: images, SWR manage and registry, preflight checks, generated code."""
