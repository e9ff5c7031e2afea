# COMPARISON CODE for bench/run.sh, not part of the chat product.
# The Django Channels tutorial's chat (https://channels.readthedocs.io/en/stable/tutorial/),
# room consumer and in-memory channel layer, as a project would start from it.
SECRET_KEY = "benchmark-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["daphne", "channels"]
ASGI_APPLICATION = "chatbench.asgi.application"
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
DATABASES = {}
USE_TZ = True
