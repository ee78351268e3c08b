"""Kernel-side machinery with no widgets: work off the main thread and the registration controller."""
