"""perflab: which compute (Lambda or ECS) and which storage (S3 or RDS) serves model downloads best."""

__version__ = "0.1.0"
