"""The HTTP API (DRF): serializers validate, views call tasks_app.services, responses are serialized."""
