"""The engine as a Django app (no models): at startup it gives the in-process runner its handlers."""
from django.apps import AppConfig


class AgentsConfig(AppConfig):
    name = "agents"
    verbose_name = "Agent engine"

    def ready(self) -> None:
        from . import inline  # the engine's modules load models: only once the apps are ready

        inline.register()
