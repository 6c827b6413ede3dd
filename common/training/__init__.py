"""The training engine: the loop, its compiled phases, resume and rollback, options, schedule, evaluation,
distribution, preemption, TensorBoard and run directories. Talks to the families through common/families.py."""
