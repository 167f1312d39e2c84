"""Extension objects, created unbound here and bound to the app in create_app."""

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_sqlalchemy_lite import SQLAlchemy
from flask_wtf import CSRFProtect

# Every engine checks a pooled connection before lending it out (one cheap round trip) and replaces it after five
# minutes, below the idle timeouts that drop connections behind our back (PgBouncer 10 min, cloud NAT/LB ~6 min):
# a connection that died while idle (database restart, failover, idle reaper) never costs a request.
POOL_RECYCLE_SECONDS = 300
db = SQLAlchemy(engine_options={"pool_pre_ping": True, "pool_recycle": POOL_RECYCLE_SECONDS})
csrf = CSRFProtect()
babel = Babel()
login_manager = LoginManager()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
