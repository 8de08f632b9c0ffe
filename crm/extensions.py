"""Flask extensions, created unbound and initialised in create_app()."""

from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from crm.core.db import Base
from crm.core.search_ddl import include_in_migrations, render_item

db = SQLAlchemy(model_class=Base)
migrate = Migrate(
    compare_type=True,
    render_as_batch=True,
    include_object=include_in_migrations,
    render_item=render_item,
)
login_manager = LoginManager()
csrf = CSRFProtect()
