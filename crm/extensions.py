"""Flask extensions, created unbound and initialised in create_app()."""

from typing import TYPE_CHECKING

from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from crm.core.db import Base
from crm.core.search_ddl import include_in_migrations, render_item

db = SQLAlchemy(model_class=Base)

# The models' base class. At run time it is db.Model: the declarative Base rebuilt by
# Flask-SQLAlchemy with its table naming and bind key. A type checker takes no attribute of an
# object as a base class (mypy: `Name "db.Model" is not defined`), so to it the base is Base,
# which declares everything the models use (registry, metadata, Mapped columns).
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model
migrate = Migrate(
    compare_type=True,
    render_as_batch=True,
    include_object=include_in_migrations,
    render_item=render_item,
)
login_manager = LoginManager()
csrf = CSRFProtect()
