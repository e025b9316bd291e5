"""Flask extensions, created unbound and initialised in the app factory."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from placements.models.base import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
#: Keyed by the client's address as the WSGI server saw it; X-Forwarded-For counts only behind
#: a configured proxy (TRUSTED_PROXIES, see placements.security). Storage: RATELIMIT_STORAGE_URI.
limiter = Limiter(key_func=get_remote_address)
