"""The download task's container entry point: ``python -m ecs_task`` (see ``__main__``)."""
