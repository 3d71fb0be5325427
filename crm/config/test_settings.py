"""Settings for the test suite: the product's own, with a password hasher made for speed.

PBKDF2 is slow by design; the suite creates hundreds of users and logs many of them in.
"""

from crm.config.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
