"""Workflows: sequential, parallel, conditional, loop and map-reduce, with data flow between steps,
pause/resume through persisted checkpoints, cancel, progress, hooks and events."""
