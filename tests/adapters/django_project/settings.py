"""A minimal Django project for the engine's tests: auth, sessions, sqlite in memory.

The Redis URL is set per test (``override_settings``), to the throwaway server of the
fixtures; the default below is never used by the tests (it names no server on purpose).
"""

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
USE_TZ = True
ROOT_URLCONF = "tests.adapters.django_project.urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "redis_session_sets.django",
]
MIDDLEWARE = [
    "redis_session_sets.django.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
SESSION_ENGINE = "redis_session_sets.django"
SESSION_REDIS_URL = "redis://127.0.0.1:1/0"
# Fast hashing: the tests log in often.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
